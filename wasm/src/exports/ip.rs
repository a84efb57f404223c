//! ABI.md "IP parsing": validation of IP packets in slots (`wire/ip.rs`).

use super::parts;
use crate::consts::HEADROOM;
use crate::errors::*;
use crate::wire::ip::Packet;

/// Packet i is at `offs[i] + HEADROOM`, `lens[i]` bytes; `res[i]` (i32) = 4 or 6 or a
/// negative code (counted in drop stats; E_TOO_BIG if `lens[i]` is more than the slot holds
/// after the headroom, E_BAD_ARG if the range is not accessible). Returns the number of
/// valid packets, or 0 without touching anything if one of the arrays is out of bounds.
#[no_mangle]
pub extern "C" fn ts_ip_parse_batch(offs: u32, lens: u32, res: u32, n: u32) -> u32 {
    let p = parts();
    let (o, l, r) = match (p.mem.words(offs, n), p.mem.words(lens, n), p.mem.words(res, n)) {
        (Some(o), Some(l), Some(r)) => (o, l, r),
        _ => return 0,
    };
    let (drops, pool) = (&mut p.tunnel.drops, &p.tunnel.pool);
    let mut ok = 0;
    for i in 0..o.count() {
        let len = l.get(i) as usize;
        let code = if len > pool.span(o.get(i)) - HEADROOM {
            E_TOO_BIG
        } else {
            match p.mem.bytes(o.get(i).wrapping_add(HEADROOM as u32), len) {
                None => E_BAD_ARG,
                Some(b) => match Packet::new_checked(b) {
                    Ok(pkt) => pkt.version() as i32,
                    Err(e) => e,
                },
            }
        };
        if code < 0 {
            drops.count(code);
        } else {
            ok += 1;
        }
        r.set(i, code as u32);
    }
    ok
}

/// Validates one packet at `(ptr, len)` and, if valid, writes its IP_INFO_LEN-byte summary
/// (`Packet::info`) at `out`. Returns the version or a code (E_BAD_ARG for an inaccessible
/// range); nothing is written on error. Not counted.
#[no_mangle]
pub extern "C" fn ts_ip_info(ptr: u32, len: u32, out: u32) -> i32 {
    let m = parts().mem;
    let pkt = match m.bytes(ptr, len as usize).map(Packet::new_checked) {
        Some(Ok(pkt)) => pkt,
        Some(Err(e)) => return e,
        None => return E_BAD_ARG,
    };
    if m.write(out, &pkt.info()) {
        pkt.version() as i32
    } else {
        E_BAD_ARG
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::host::*;
    use crate::exports::pool::{ts_pool_alloc, ts_pool_init, ts_scratch_ptr};
    use crate::wire::ip::tests::{v4, v6};

    #[test]
    fn exports() {
        fresh();
        assert_eq!(ts_pool_init(4, 4), 0);
        let s = ts_scratch_ptr();
        let slots: Vec<u32> = (0..4).map(|_| ts_pool_alloc()).collect();
        let pkts =
            [v4([10, 0, 0, 1], [10, 0, 0, 2], 4), v6([1; 16], [2; 16], 0), vec![0x50; 40], v4([1; 4], [2; 4], 0)];
        let lens = [24u32, 40, 40, 2033];
        for i in 0..4 {
            assert!(m().write(slots[i] + 16, &pkts[i][..pkts[i].len().min(2000)]));
            assert!(m().write(s + 4 * i as u32, &slots[i].to_le_bytes()));
            assert!(m().write(s + 16 + 4 * i as u32, &lens[i].to_le_bytes()));
        }
        assert_eq!(ts_ip_parse_batch(s, s + 16, s + 32, 4), 2);
        let res: Vec<i32> = (0..4).map(|i| i32::from_le_bytes(m().read::<4>(s + 32 + 4 * i).unwrap())).collect();
        assert_eq!(res, vec![4, 6, E_BAD_VERSION, E_TOO_BIG]);
        let d = &tunnel().drops;
        assert_eq!((d.get(E_BAD_VERSION), d.get(E_TOO_BIG)), (1, 1));
        assert_eq!(ts_ip_parse_batch(0, s, s, 1), 0);

        // ts_ip_info on the v4 packet.
        let out = s + 1024;
        assert_eq!(ts_ip_info(slots[0] + 16, 24, out), 4);
        let info = m().read::<40>(out).unwrap();
        assert_eq!(&info[..8], &[4, 17, 20, 0, 24, 0, 0, 0]);
        assert_eq!(&info[8..12], &[10, 0, 0, 1]);
        assert_eq!(&info[12..24], &[0; 12]);
        assert_eq!(&info[24..28], &[10, 0, 0, 2]);
        assert_eq!(ts_ip_info(slots[1] + 16, 40, out), 6);
        assert_eq!(m().read::<16>(out + 8).unwrap(), [1; 16]);
        assert_eq!(ts_ip_info(slots[0] + 16, 10, out), E_TRUNCATED);
        assert_eq!(ts_ip_info(0, 24, out), E_BAD_ARG);
        assert_eq!(ts_ip_info(slots[0] + 16, 24, 0), E_BAD_ARG);
        // Not counted.
        assert_eq!(tunnel().drops.get(E_TRUNCATED), 0);
    }
}
