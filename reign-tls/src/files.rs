//! Writing a file atomically: a temporary file in the same folder, with its final mode from
//! the moment it exists, filled, fsync-ed and renamed (or hard-linked) over the target, then
//! the folder fsync-ed. reign-certgen writes every file through this, and a node writes its
//! renewed certificate and key through it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Mode of private key files: owner read/write only.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of certificates, CRLs and other public files.
pub const PUBLIC_MODE: u32 = 0o644;

/// Writes `contents` to `path` atomically with `mode`: a reader sees the old file or the
/// whole new one, never a part. With `replace` false, an existing `path` (appearing even
/// between the check and the write) fails with [`io::ErrorKind::AlreadyExists`] and is left
/// untouched. The temporary file is never wider than `mode`; a secret is 0600 from its
/// first byte.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32, replace: bool) -> io::Result<()> {
    if !replace && fs::symlink_metadata(path).is_ok() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let (tmp, mut file) = create_temp(&dir, &name.to_string_lossy(), mode)?;
    let result = (|| {
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        if replace {
            fs::rename(&tmp, path)
        } else {
            link_no_clobber(&tmp, path)
        }
    })();
    // After a rename the temp name is gone; after a hard link or a failure it must go.
    let _ = fs::remove_file(&tmp);
    result?;
    // Make the new directory entry durable. Some filesystems refuse fsync on a folder; the
    // file itself is already on disk, so that is not worth failing for.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates a fresh temporary file next to the target, with its final mode from the start.
fn create_temp(dir: &Path, name: &str, mode: u32) -> io::Result<(PathBuf, File)> {
    for _ in 0..16 {
        let mut rnd = [0u8; 6];
        getrandom::fill(&mut rnd).map_err(|e| io::Error::other(e.to_string()))?;
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
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary name",
    ))
}

/// Publishes `tmp` as `path` unless `path` appeared meanwhile: a hard link fails atomically
/// if the target exists, which a rename would not.
fn link_no_clobber(tmp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        // Filesystems without hard links: the existence check above is the best we can do.
        Err(_) => fs::rename(tmp, path),
    }
}
