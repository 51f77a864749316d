//! ServiceAccounts: `ValidateServiceAccount` checks the name (a DNS subdomain) and the names of
//! the Secrets it lists.

use k8s_openapi::api::core::v1::ServiceAccount;

use super::field::{Causes, Path};
use super::names;
use super::{Context, Kind};

impl Kind for ServiceAccount {
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        for (index, secret) in self.secrets.iter().flatten().enumerate() {
            if let Some(name) = &secret.name {
                causes.invalid_each(&Path::new("secrets").index(index).child("name"), name, names::dns1123_subdomain(name));
            }
        }
    }
}
