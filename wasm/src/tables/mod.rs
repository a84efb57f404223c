//! Level 2: the tunnel's tables, plain structs with methods. They hold no static and
//! never see linear memory: slot offsets are numbers to them, and what lives in the shared
//! region (the peers' endpoint sockaddrs) is passed in as a slice.

pub mod allowed_ips;
pub mod drops;
pub mod keypairs;
pub mod peers;
pub mod pool;
pub mod replay;
pub mod sockets;
pub mod tcb;
