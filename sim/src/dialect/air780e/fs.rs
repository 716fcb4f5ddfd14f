//! The Air780E's file system as seen over AT: the files a host writes certificates into
//! (seed 000 sections 6.3 and 6.4) before pointing `AT+SSLCFG` at them.
//!
//! Sources: seed 000 sections 6.3/6.4 (`AT+FSCREATE`, `AT+FSWRITE` with the `>` prompt, `OK`);
//! the family's AT manual, file-system chapter ("文件系统操作": `AT+FSCREATE`, `AT+FSREAD`,
//! `AT+FSWRITE` answering `OK`, `ERROR` or `TimeOut`, 64-byte names, 10240-byte limit,
//! `AT+FSMEM`), summarised in fixtures/air780e-manual-notes.md section 15. `AT+FSDEL`,
//! `AT+FSFLSIZE` and `AT+FSLS` are not in the chapter we could read; they follow the SIMCom
//! command set the family's file commands come from (fixtures/DIVERGENCES.md).
//!
//! Directories (`AT+FSMKDIR`, `AT+FSRMDIR`) and `AT+FSMEM` follow the manual's FS pages
//! (luatos-doc-pool `doc/AT开发资料/AT_Command_Manual/docs/Command_List/FS/`: FSMKDIR.md,
//! FSRMDIR.md, FSMEM.md and 使用方法举例.md, whose paths are `/testdir/test.txt`); what they do
//! not say is fixtures/DIVERGENCES.md A35.
//!
//! The files live in memory: a simulated module starts with an empty file system, as a module
//! fresh from the factory does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::at::{Arg, Form};
use crate::dialect::params::{args_or_syntax, fixed_args};
use crate::dialect::Out;

use super::{num_in, set_args};

/// The largest `AT+FSWRITE`/`AT+FSREAD` size (manual: "不能大于10240个字节"), which is also the
/// largest file we keep.
pub const FILE_MAX: usize = 10240;
/// File names: "不超过64个字节" (manual).
pub const NAME_MAX: usize = 64;
/// How many files the module keeps; the manual gives no number, this keeps memory bounded.
pub const FILES_MAX: usize = 32;
/// How many directories; as [`FILES_MAX`].
pub const DIRS_MAX: usize = 16;
/// `AT+FSMEM` on an empty file system: the manual's example (使用方法举例.md, `+FSMEM: 1304000
/// bytes`); each byte of file content takes one from it.
pub const SPACE: usize = 1_304_000;

/// An `AT+FSWRITE` waiting for its bytes (the dialect's [`Pending`](crate::dialect::pending)).
#[derive(Debug)]
pub struct PendingWrite {
    name: String,
    append: bool,
    /// The input timer that ends the wait with `TimeOut`.
    pub timer: u64,
}

#[derive(Debug, Default)]
pub struct Fs {
    files: BTreeMap<String, Vec<u8>>,
    /// The directories, by path as `path` writes it.
    dirs: BTreeSet<String>,
    next_timer: u64,
}

fn name_of(arg: Option<&Arg>) -> Option<String> {
    path(&arg?.text())
}

/// A file or directory name as the module takes it: at most 64 bytes, `/` between directories
/// (使用方法举例.md: `/testdir/test.txt`), the leading `/` (the root) optional, so `ca.crt` and
/// `/ca.crt` are one file; no empty part, `.`, `..` or `\`.
fn path(n: &str) -> Option<String> {
    let p = n.strip_prefix('/').unwrap_or(n);
    let ok = |part: &str| !matches!(part, "" | "." | "..") && !part.contains('\\');
    (n.len() <= NAME_MAX && p.split('/').all(ok)).then(|| p.to_string())
}

impl Fs {
    /// The contents of `name`, for `AT+SSLCFG`'s certificate files.
    pub fn read(&self, name: &str) -> Option<&[u8]> {
        self.files.get(&path(name)?).map(Vec::as_slice)
    }

    /// `path`'s directory exists (the root always does), and nothing has its name.
    fn fits(&self, path: &str) -> bool {
        let parent = path
            .rsplit_once('/')
            .is_none_or(|(d, _)| self.dirs.contains(d));
        parent && !self.dirs.contains(path)
    }

    /// `AT+FSCREATE=<filename>` -> `OK` (seed 000 sections 6.3/6.4; manual). Creating a file
    /// that exists keeps it, so a host that re-runs its set-up each boot is not refused.
    pub fn fscreate(&mut self, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(form, out, &[]) else {
            return;
        };
        let (Some(name), 1) = (name_of(args.first()), args.len()) else {
            return out.error();
        };
        let new = !self.files.contains_key(&name);
        if new && (self.files.len() >= FILES_MAX || !self.fits(&name)) {
            return out.error();
        }
        self.files.entry(name).or_default();
        out.ok()
    }

    /// `AT+FSWRITE=<filename>,<mode>,<size>,<timeout>` -> `\r\n>`, then exactly `size` bytes,
    /// then `OK`; `TimeOut` when they have not all come within `timeout` seconds (seed 000
    /// sections 6.3/6.4; manual: mode 0 writes from the start, 1 appends; size at most 10240;
    /// timeout 1..4294967295 s). The file must exist (`AT+FSCREATE` first, as every flow does).
    pub fn fswrite(&mut self, form: &Form, out: &mut Out) -> Option<PendingWrite> {
        let [name, mode, size, timeout] = fixed_args(form, out, &[])?;
        let (Some(name), Some(mode), Some(size), Some(timeout)) = (
            name_of(Some(&name)),
            num_in(Some(&mode), 0..=1),
            num_in(Some(&size), 1..=FILE_MAX as u32),
            seconds(&timeout),
        ) else {
            out.error();
            return None;
        };
        let append = mode == 1;
        let fits = |f: &Vec<u8>| !append || f.len() + size as usize <= FILE_MAX;
        if !self.files.get(name.as_str()).is_some_and(fits) {
            out.error();
            return None;
        }
        self.next_timer += 1;
        out.raw(b"\r\n>");
        out.expect_data(size as usize);
        out.timer(self.next_timer, Duration::from_secs(timeout));
        Some(PendingWrite {
            name,
            append,
            timer: self.next_timer,
        })
    }

    /// The bytes of an `AT+FSWRITE`.
    pub fn write_data(&mut self, p: PendingWrite, data: Vec<u8>, out: &mut Out) {
        let file = self.files.entry(p.name.clone()).or_default();
        if !p.append {
            file.clear();
        }
        file.extend_from_slice(&data);
        tracing::info!(file = %p.name, bytes = data.len(), total = file.len(), "file written");
        out.ok()
    }

    /// The write's input timeout: the module gives up on the bytes and says `TimeOut`
    /// (manual: "输入数据的时间超过<inputtime>时,返回TimeOut"); the file is left as it was.
    pub fn timed_out(&mut self, p: PendingWrite, out: &mut Out) {
        tracing::warn!(file = %p.name, "AT+FSWRITE input timed out");
        out.cancel_data();
        out.line("TimeOut");
    }

    /// `AT+FSREAD=<filename>,<mode>,<size>,<position>` -> the bytes, then `OK` (manual: mode 0
    /// reads from the start, 1 from `position`, which must be inside the file; at most 10240
    /// bytes, fewer when the file is shorter).
    pub fn fsread(&mut self, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(form, out, &[]) else {
            return;
        };
        let [name, mode, size, pos] = args.as_slice() else {
            return out.error();
        };
        let (Some(name), Some(mode), Some(size)) = (
            name_of(Some(name)),
            num_in(Some(mode), 0..=1),
            num_in(Some(size), 1..=FILE_MAX as u32),
        ) else {
            return out.error();
        };
        let Some(file) = self.files.get(&name) else {
            return out.error();
        };
        let start = if mode == 0 {
            0
        } else {
            match pos.number().map(|p| p as usize) {
                Some(p) if p < file.len() => p,
                _ => return out.error(),
            }
        };
        let end = (start + size as usize).min(file.len());
        out.raw(b"\r\n");
        out.raw(&file[start..end]);
        out.raw(b"\r\n");
        out.ok()
    }

    /// `AT+FSDEL=<filename>` -> `OK`, `ERROR` when there is no such file (inferred, see the
    /// module doc).
    pub fn fsdel(&mut self, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            return out.ok();
        }
        match set_args(form).as_deref() {
            Some([name]) => match name_of(Some(name)).and_then(|n| self.files.remove(&n)) {
                Some(_) => out.ok(),
                None => out.error(),
            },
            _ => out.error(),
        }
    }

    /// `AT+FSFLSIZE=<filename>` -> `+FSFLSIZE: <bytes>` (inferred, see the module doc).
    pub fn fsflsize(&mut self, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            return out.ok();
        }
        match set_args(form).as_deref() {
            Some([name]) => match name_of(Some(name)).and_then(|n| self.files.get(&n)) {
                Some(f) => {
                    out.line(format!("+FSFLSIZE: {}", f.len()));
                    out.ok()
                }
                None => out.error(),
            },
            _ => out.error(),
        }
    }

    /// `AT+FSLS` (or `AT+FSLS=<dir>`, the directory ignored: the module has one) -> one name
    /// per line, then `OK` (inferred, see the module doc).
    pub fn fsls(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Exec | Form::Set(_) => {
                out.raw(b"\r\n");
                for name in self.files.keys() {
                    out.raw(name.as_bytes());
                    out.raw(b"\r\n");
                }
                out.ok()
            }
            Form::Test => out.ok(),
            Form::Read => out.error(),
        }
    }
}

impl Fs {
    /// `AT+FSMKDIR=<dir_name>` -> `OK` (FSMKDIR.md; 使用方法举例.md makes `/testdir`, then
    /// `/testdir/testdir`); `ERROR` for a bad name, a parent that does not exist, or a name
    /// already taken (A35).
    pub fn fsmkdir(&mut self, form: &Form, out: &mut Out) {
        let Some(dir) = self.one_path(form, out) else {
            return;
        };
        if self.files.contains_key(&dir) || !self.fits(&dir) || self.dirs.len() >= DIRS_MAX {
            return out.error();
        }
        self.dirs.insert(dir);
        out.ok()
    }

    /// `AT+FSRMDIR=<dir_name>` -> `OK` (FSRMDIR.md; 使用方法举例.md removes an empty one);
    /// `ERROR` when there is no such directory or something is still in it (A35).
    pub fn fsrmdir(&mut self, form: &Form, out: &mut Out) {
        let Some(dir) = self.one_path(form, out) else {
            return;
        };
        let inside = format!("{dir}/");
        let mut names = self.files.keys().chain(self.dirs.iter());
        if !self.dirs.contains(&dir) || names.any(|n| n.starts_with(&inside)) {
            return out.error();
        }
        self.dirs.remove(&dir);
        out.ok()
    }

    /// `AT+FSMEM` -> `+FSMEM: <size> bytes`, the free space (FSMEM.md; the ` bytes` as
    /// 使用方法举例.md prints it): [`SPACE`] less the files' bytes (A35).
    pub fn fsmem(&self, form: &Form, out: &mut Out) {
        match form {
            Form::Exec => {
                let used: usize = self.files.values().map(Vec::len).sum();
                out.line(format!("+FSMEM: {} bytes", SPACE.saturating_sub(used)));
                out.ok()
            }
            Form::Test => out.ok(),
            _ => out.error(),
        }
    }

    /// The one path of `AT+X=<path>`, the test form answered `OK` and other forms or
    /// parameters `ERROR`; `None` when answered.
    fn one_path(&self, form: &Form, out: &mut Out) -> Option<String> {
        let args = args_or_syntax(form, out, &[])?;
        let path = match args.as_slice() {
            [one] => name_of(Some(one)),
            _ => None,
        };
        if path.is_none() {
            out.error();
        }
        path
    }
}

/// The `<inputtime>` of `AT+FSWRITE`: 1..=4294967295 seconds (more digits than [`Arg::number`]
/// takes).
fn seconds(arg: &Arg) -> Option<u64> {
    if arg.bytes.is_empty() || arg.bytes.len() > 10 || !arg.bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(&arg.bytes).ok()?.parse().ok()?;
    (1..=u64::from(u32::MAX)).contains(&n).then_some(n)
}
