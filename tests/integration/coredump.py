"""Reads an httpd child's core file (ELF, x86-64 Linux) far enough to tell
whose crash it was, with no debugger: the thread the kernel dumped first (the
one that took the signal), its instruction pointer and return address, and
the files mapped there.

It exists for one known crash of httpd's own event MPM (2.4.x), seen under
`apachectl -k restart` with load: the stopping child's main thread walks
worker_sockets[] in close_worker_sockets() and reads a worker's socket while
that worker, done with its connection, destroys the connection's pool (an
mmap'd APR allocator: the socket's memory is unmapped) before it clears its
slot. It reproduces with no mod_meeting loaded (a static file under
Connection: close). is_event_mpm_close_race() recognises exactly that crash,
so that a test can tell it from one of ours; any other crash, or a core it
cannot read, counts as ours.
"""
import mmap
import os
import re
import struct

NT_PRSTATUS = 1
NT_FILE = 0x46494C45
SIGSEGV = 11
# struct elf_prstatus on x86-64: si_signo at 0, pr_pid at 32, pr_reg at 112;
# user_regs_struct: rsp is register 19, rip register 16.
PR_PID, PR_REG = 32, 112
REG_RIP, REG_RSP = 16, 19


def _notes(data, phdrs):
    for ptype, off, _vaddr, filesz in phdrs:
        if ptype != 4:  # PT_NOTE
            continue
        pos, end = off, off + filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            desc = pos + 12 + (namesz + 3) // 4 * 4
            yield ntype, data[desc:desc + descsz]
            pos = desc + (descsz + 3) // 4 * 4


def _phdrs(data):
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not a 64-bit ELF file")
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    out = []
    for i in range(phnum):
        ptype, _flags, off, vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        out.append((ptype, off, vaddr, filesz))
    return out


def _mappings(desc):
    count, page = struct.unpack_from("<QQ", desc, 0)
    ranges = [struct.unpack_from("<QQQ", desc, 16 + 24 * i) for i in range(count)]
    names = desc[16 + 24 * count:].split(b"\0")
    return [(start, end, ofs * page, names[i].decode(errors="replace"))
            for i, (start, end, ofs) in enumerate(ranges)]


def _read(data, phdrs, addr, n):
    for ptype, off, vaddr, filesz in phdrs:
        if ptype == 1 and vaddr <= addr and addr + n <= vaddr + filesz:  # PT_LOAD
            return data[off + addr - vaddr:off + addr - vaddr + n]
    return None


def _symbol_range(path, name):
    """(value, size) of a dynamic symbol of a shared library."""
    with open(path, "rb") as f:
        lib = f.read()
    shoff, = struct.unpack_from("<Q", lib, 40)
    shentsize, shnum = struct.unpack_from("<HH", lib, 58)
    sections = [struct.unpack_from("<IIQQQQIIQQ", lib, shoff + i * shentsize)
                for i in range(shnum)]
    for _name, stype, _flags, _addr, off, size, link, _info, _align, entsize in sections:
        if stype != 11:  # SHT_DYNSYM
            continue
        stroff = sections[link][4]
        for pos in range(off, off + size, entsize):
            st_name, _info, _other, _shndx, value, sym_size = struct.unpack_from(
                "<IBBHQQ", lib, pos)
            end = lib.index(b"\0", stroff + st_name)
            if lib[stroff + st_name:end] == name.encode():
                return value, sym_size
    return None


def _where(maps, addr):
    """(path, the file's load base) of the mapping holding addr, or None."""
    for start, end, _ofs, path in maps:
        if start <= addr < end:
            base = min(s for s, _e, o, p in maps if p == path and o == 0)
            return path, base
    return None


def crash_site(core_path):
    """(signal, thread id, rip, rsp, return address, mappings) of the thread
    that took the signal."""
    with open(core_path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _crash_site(data)


def _crash_site(data):
    phdrs = _phdrs(data)
    first = maps = None
    for ntype, desc in _notes(data, phdrs):
        if ntype == NT_PRSTATUS and first is None:
            first = desc
        elif ntype == NT_FILE:
            maps = _mappings(desc)
    if first is None or maps is None:
        raise ValueError("no thread status or file map in the core")
    signo, = struct.unpack_from("<i", first, 0)
    tid, = struct.unpack_from("<i", first, PR_PID)
    rip, = struct.unpack_from("<Q", first, PR_REG + 8 * REG_RIP)
    rsp, = struct.unpack_from("<Q", first, PR_REG + 8 * REG_RSP)
    ret = _read(data, phdrs, rsp, 8)
    return signo, tid, rip, rsp, struct.unpack("<Q", ret)[0] if ret else None, maps


def is_event_mpm_close_race(core_path, pid):
    """Whether the core of child pid is the event MPM's crash above: a
    SIGSEGV of the child's main thread (whose id is the pid) on the first
    instruction of APR's apr_os_sock_get(), called from mod_mpm_event.so."""
    try:
        signo, tid, rip, _rsp, ret, maps = crash_site(core_path)
        at, caller = _where(maps, rip), _where(maps, ret) if ret else None
        if signo != SIGSEGV or tid != pid or not at or not caller:
            return False
        if not re.search(r"/libapr-1\.so", at[0]) or not caller[0].endswith("mod_mpm_event.so"):
            return False
        sym = _symbol_range(at[0], "apr_os_sock_get")
        return bool(sym) and sym[0] <= rip - at[1] < sym[0] + sym[1]
    except (OSError, ValueError, struct.error, IndexError):
        return False


def core_of(directory, pid, only_crash):
    """The core file child pid left in directory, if it is there: core.<pid>
    (kernel.core_uses_pid), or "core" when pid was the only child to crash
    (another crash would have written over it)."""
    for name in (f"core.{pid}",) + (("core",) if only_crash else ()):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    return None
