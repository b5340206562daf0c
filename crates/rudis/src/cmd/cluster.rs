//! CLUSTER, READONLY, READWRITE, ASKING as Redis 7.0.15 answers them with
//! `cluster-enabled no`, the only mode rudis has: every one of them is
//! refused with the same error (clusterCommand and the three connection
//! commands check `server.cluster_enabled` first). The rows carry Redis's
//! arity and flags, so dispatch, COMMAND and scripts treat them as Redis
//! does: CLUSTER RESET is refused inside a script as `noscript`, an
//! unknown subcommand gets CLUSTER's own error.

use super::flags::*;
use super::{acl, row, Args, Command, Ctx};
use crate::errors::{self, CmdResult, Error};

/// Any CLUSTER subcommand, READONLY, READWRITE, ASKING.
fn disabled(_: &mut Ctx, _: &mut Args) -> CmdResult {
    Err(Error::Static(errors::CLUSTER_DISABLED))
}

const ADMIN_ACL: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;
const NONDET: &[&str] = &["nondeterministic_output"];
const CHANGE: u32 = ADMIN | STALE | NO_ASYNC_LOADING;

pub static COMMANDS: &[Command] = &[
    row("cluster", -2, 0, |_, _| Ok(()))
        .acl(acl::SLOW)
        .subs(CLUSTER),
    row("readonly", 1, LOADING | STALE | FAST, disabled).acl(acl::FAST | acl::CONNECTION),
    row("readwrite", 1, LOADING | STALE | FAST, disabled).acl(acl::FAST | acl::CONNECTION),
    row("asking", 1, FAST, disabled).acl(acl::FAST | acl::CONNECTION),
];

static CLUSTER: &[Command] = &[
    row("cluster|addslots", -3, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|addslotsrange", -4, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|bumpepoch", 2, CHANGE, disabled)
        .acl(ADMIN_ACL)
        .tips(NONDET),
    row("cluster|count-failure-reports", 3, ADMIN | STALE, disabled)
        .acl(ADMIN_ACL)
        .tips(NONDET),
    row("cluster|countkeysinslot", 3, STALE, disabled).acl(acl::SLOW),
    row("cluster|delslots", -3, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|delslotsrange", -4, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|failover", -2, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|flushslots", 2, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|forget", 3, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|getkeysinslot", 4, STALE, disabled)
        .acl(acl::SLOW)
        .tips(NONDET),
    row("cluster|help", 2, LOADING | STALE, disabled).acl(acl::SLOW),
    row("cluster|info", 2, STALE, disabled)
        .acl(acl::SLOW)
        .tips(NONDET),
    row("cluster|keyslot", 3, STALE, disabled).acl(acl::SLOW),
    row("cluster|links", 2, STALE, disabled)
        .acl(acl::SLOW)
        .tips(NONDET),
    row("cluster|meet", -4, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|myid", 2, STALE, disabled).acl(acl::SLOW),
    row("cluster|nodes", 2, STALE, disabled)
        .acl(acl::SLOW)
        .tips(NONDET),
    row("cluster|replicas", 3, ADMIN | STALE, disabled)
        .acl(ADMIN_ACL)
        .tips(NONDET),
    row("cluster|replicate", 3, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|reset", -2, ADMIN | NOSCRIPT | STALE, disabled).acl(ADMIN_ACL),
    row("cluster|saveconfig", 2, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|set-config-epoch", 3, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|setslot", -4, CHANGE, disabled).acl(ADMIN_ACL),
    row("cluster|shards", 2, STALE, disabled)
        .acl(acl::SLOW)
        .tips(NONDET),
    row("cluster|slaves", 3, ADMIN | STALE, disabled)
        .acl(ADMIN_ACL)
        .tips(NONDET),
    row("cluster|slots", 2, STALE, disabled)
        .acl(acl::SLOW)
        .tips(NONDET),
];
