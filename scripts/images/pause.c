/* The pod sandbox's process: holds the pod's namespaces open and does nothing else. As PID 1 of
 * the pod's PID namespace (shareProcessNamespace) it reaps orphans, and it exits 0 on SIGTERM or
 * SIGINT so that stopping a sandbox is quick (as Kubernetes' own pause does). */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) {
    (void)signal_number;
    _exit(0);
}

static void reap(int signal_number) {
    (void)signal_number;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction on_stop = {0};
    on_stop.sa_handler = stop;
    if (sigaction(SIGINT, &on_stop, NULL) != 0 || sigaction(SIGTERM, &on_stop, NULL) != 0) {
        return 1;
    }
    struct sigaction on_child = {0};
    on_child.sa_handler = reap;
    on_child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    if (sigaction(SIGCHLD, &on_child, NULL) != 0) {
        return 2;
    }
    for (;;) {
        pause();
    }
}
