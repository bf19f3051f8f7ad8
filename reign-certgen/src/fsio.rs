//! Every file certgen writes goes through here: atomic (temp file in the same folder, fsync,
//! rename, fsync the folder), private keys 0600 from the moment the temp file exists, and no
//! overwrite unless asked.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::CertgenError;

/// Mode of private key files: owner read/write only.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of certificates, CRLs and the state file.
pub const PUBLIC_MODE: u32 = 0o644;

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
    ensure_writable(path, force)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        CertgenError::InvalidArgument(format!("{} is not a file name", path.display()))
    })?;
    let (tmp, mut file) = create_temp(&dir, &name.to_string_lossy(), mode)?;
    let result = (|| {
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|e| CertgenError::io(&tmp, "write", e))?;
        drop(file);
        if force {
            fs::rename(&tmp, path).map_err(|e| CertgenError::io(path, "write", e))
        } else {
            link_no_clobber(&tmp, path)
        }
    })();
    // After a rename the temp name is gone; after a hard link or a failure it must go.
    let _ = fs::remove_file(&tmp);
    result?;
    // Make the new directory entry durable. Some filesystems refuse fsync on a folder;
    // the file itself is already on disk, so that is not worth failing for.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates a fresh temporary file next to the target, with its final mode from the start.
fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File), CertgenError> {
    for _ in 0..16 {
        let mut rnd = [0u8; 6];
        getrandom::fill(&mut rnd).map_err(|e| CertgenError::crypto("get random bytes", e))?;
        let suffix: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = dir.join(format!(".{name}.tmp-{suffix}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => {
                // The umask may have narrowed the mode (never widened it); set it exactly for
                // public files so they are readable by the node's service user.
                if mode != SECRET_MODE {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = f.set_permissions(fs::Permissions::from_mode(mode));
                }
                return Ok((tmp, f));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(CertgenError::io(dir, "create a file in", e)),
        }
    }
    Err(CertgenError::io(
        dir,
        "create a file in",
        io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary name"),
    ))
}

/// Publishes `tmp` as `path` unless `path` appeared meanwhile: a hard link fails atomically
/// if the target exists, which a rename would not.
fn link_no_clobber(tmp: &Path, path: &Path) -> Result<(), CertgenError> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CertgenError::AlreadyExists {
            path: path.to_owned(),
        }),
        // Filesystems without hard links: the existence check above is the best we can do.
        Err(_) => fs::rename(tmp, path).map_err(|e| CertgenError::io(path, "write", e)),
    }
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
