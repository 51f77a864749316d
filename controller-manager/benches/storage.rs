//! The persistent-volume benchmark (issue #24): written while the storage controllers land.

fn main() {
    println!("storage benchmark: not written yet");
}
