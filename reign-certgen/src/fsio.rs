//! Every file certgen writes goes through here (and `reign_tls::files`): atomic (temp file in the same folder, fsync,
//! rename, fsync the folder), private keys 0600 from the moment the temp file exists, and no
//! overwrite unless asked.

use std::fs;
use std::io;
use std::path::Path;

use crate::CertgenError;

pub use reign_tls::files::{PUBLIC_MODE, SECRET_MODE};

/// Writes a private key (or any secret) to `path` atomically with mode 0600.
///
/// The temporary file is created with mode 0600 (never wider, then chmod-ed), filled,
/// fsync-ed and renamed over `path`; the folder is fsync-ed afterwards. Without `force`,
/// an existing `path` is an [`CertgenError::AlreadyExists`] error and is left untouched.
pub fn write_secret_file(path: &Path, contents: &[u8], force: bool) -> Result<(), CertgenError> {
    write_atomic(path, contents, SECRET_MODE, force)
}

/// Writes a public file (certificate, CRL, state) to `path` atomically with mode 0644.
///
/// Same guarantees as [`write_secret_file`] apart from the mode.
pub fn write_public_file(path: &Path, contents: &[u8], force: bool) -> Result<(), CertgenError> {
    write_atomic(path, contents, PUBLIC_MODE, force)
}

/// Fails with [`CertgenError::AlreadyExists`] if `path` exists and `force` is false.
///
/// Used to check every file of a multi-file operation before anything is written.
pub(crate) fn ensure_writable(path: &Path, force: bool) -> Result<(), CertgenError> {
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(CertgenError::AlreadyExists {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Creates `dir` (and its parents) if it is missing.
pub(crate) fn create_dir(dir: &Path) -> Result<(), CertgenError> {
    fs::create_dir_all(dir).map_err(|e| CertgenError::io(dir, "create the folder", e))
}

/// Reads a whole file, refusing an empty one with a precise error.
pub(crate) fn read_nonempty(path: &Path) -> Result<Vec<u8>, CertgenError> {
    let bytes = fs::read(path).map_err(|e| CertgenError::io(path, "read", e))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CertgenError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

fn write_atomic(path: &Path, contents: &[u8], mode: u32, force: bool) -> Result<(), CertgenError> {
    reign_tls::files::write_atomic(path, contents, mode, force).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists && !force {
            CertgenError::AlreadyExists {
                path: path.to_owned(),
            }
        } else {
            CertgenError::io(path, "write", e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secret_is_0600_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.key");
        write_secret_file(&p, b"one", false).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = write_secret_file(&p, b"two", false).unwrap_err();
        assert!(matches!(err, CertgenError::AlreadyExists { .. }), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_secret_file(&p, b"two", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temp files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn public_is_0644() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.pem");
        write_public_file(&p, b"x", false).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }
}
