//! Who is on the other end of a unix socket: [`LocalUser`], the operating-system user owning the
//! client process (from the kernel's peer credentials), named from the user database (`/etc/passwd`),
//! as PostgreSQL's `peer` authentication does.

use std::path::Path;

use iamwire_core::{ClientIdentity, IdentitySource};

/// The largest user database read (a bound on what a name lookup costs).
const MAX_PASSWD: u64 = 16 * 1024 * 1024;

/// The operating-system user of a local client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    uid: u32,
    name: String,
}

impl LocalUser {
    /// The user with id `uid`, named from `/etc/passwd` (`uid:<n>` when it has no entry there).
    pub fn of(uid: u32) -> Self {
        Self::named_from(uid, Path::new("/etc/passwd"))
    }

    fn named_from(uid: u32, passwd: &Path) -> Self {
        let name = read_bounded(passwd)
            .and_then(|text| name_in(&text, uid))
            .unwrap_or_else(|| format!("uid:{uid}"));
        Self { uid, name }
    }

    /// The user's id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The user's name (the identity the proxy's rules name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client identity this user is.
    pub fn identity(&self) -> ClientIdentity {
        ClientIdentity::new(
            self.name.clone(),
            IdentitySource::LocalUser { uid: self.uid },
        )
    }
}

fn read_bounded(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_PASSWD)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// The name of `uid` in passwd-format `text` (`name:password:uid:gid:...`), the first entry winning.
fn name_in(text: &str, uid: u32) -> Option<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse::<u32>().ok()?;
            (id == uid && !name.is_empty()).then(|| name.to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_user_database() {
        let text = "# comment\nroot:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n\
                    broken\nalias:x:1000:1000::/:/bin/sh\n";
        assert_eq!(name_in(text, 0).as_deref(), Some("root"));
        assert_eq!(name_in(text, 1000).as_deref(), Some("alice"));
        assert_eq!(name_in(text, 7), None);
        let dir = std::env::temp_dir().join(format!("iamwire-passwd-{}", std::process::id()));
        std::fs::write(&dir, text).unwrap();
        assert_eq!(LocalUser::named_from(1000, &dir).name(), "alice");
        assert_eq!(LocalUser::named_from(4242, &dir).name(), "uid:4242");
        assert_eq!(
            LocalUser::named_from(5, Path::new("/nonexistent/passwd")).name(),
            "uid:5"
        );
        let _ = std::fs::remove_file(&dir);
        let identity = LocalUser::named_from(1000, Path::new("/nonexistent")).identity();
        assert_eq!(identity.source(), &IdentitySource::LocalUser { uid: 1000 });
    }
}
