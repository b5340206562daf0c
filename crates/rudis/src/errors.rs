//! Every error text rudis sends, in one place, worded exactly as Redis
//! 7.0.15 words it. (Protocol errors are `resp::ProtoError`.)

use std::fmt;

/// A command error: the whole line after `-`, code first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Static(&'static str),
    /// Bytes, not text: Redis quotes client arguments verbatim.
    Owned(Vec<u8>),
    /// An error the error statistics already counted where it arose (a
    /// command's, failing a script): the reply is still an error.
    Counted(Vec<u8>),
}

impl Error {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Error::Static(s) => s.as_bytes(),
            Error::Owned(s) | Error::Counted(s) => s,
        }
    }

    /// The error code (first word), as INFO errorstats counts it.
    pub fn code(&self) -> &[u8] {
        let s = self.as_bytes();
        s.split(|&c| c == b' ').next().unwrap_or(s)
    }
}

impl From<&'static str> for Error {
    fn from(s: &'static str) -> Error {
        Error::Static(s)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

pub type CmdResult = Result<(), Error>;

pub const SSUBSCRIBE_DENY_BLOCKING: &str =
    "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client";
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const SYNTAX: &str = "ERR syntax error";
/// The reply to a command that hit a bug (a caught panic); rudis's own.
pub const INTERNAL: &str = "ERR internal error while running the command; closing the connection";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const DECREMENT_OVERFLOW: &str = "ERR decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const INVALID_FIRST_DB: &str = "ERR invalid first DB index";
pub const INVALID_SECOND_DB: &str = "ERR invalid second DB index";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const EXPIRE_NX_AND_OTHERS: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_AND_LT: &str = "ERR GT and LT options at the same time are not compatible";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const NOAUTH_HELLO: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NO_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
pub const PROTO_NOT_INTEGER: &str = "ERR Protocol version is not an integer or out of range";
pub const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
pub const INVALID_COMMAND: &str = "ERR Invalid command specified";
pub const NO_KEY_ARGUMENTS: &str = "ERR The command has no key arguments";
pub const INVALID_ARGUMENTS: &str = "ERR Invalid arguments specified for command";
pub const INVALID_ARGUMENT_COUNT: &str = "ERR Invalid number of arguments specified for command";
pub const NO_CONFIG_FILE: &str = "ERR The server is running without a config file";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
pub const LRU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const CLUSTER_DISABLED: &str = "ERR This instance has cluster support disabled";
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
pub const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
pub const LCS_IDX_AND_LEN: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
pub const LCS_TOO_BIG: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
pub const LCS_ALLOC_FAILED: &str =
    "ERR Insufficient memory, failed allocating transient memory for LCS";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
pub const BITOP_NOT: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITFIELD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO: &str = "ERR BITFIELD_RO only supports the GET subcommand";
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const NAN_OR_INFINITY_ARG: &str = "ERR value is NaN or Infinity";
pub const VALUE_OUT_OF_RANGE: &str = "ERR value is out of range";
pub const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const NUMKEYS_TOO_MANY: &str = "ERR Number of keys can't be greater than number of args";
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
pub const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
pub const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
pub const COUNT_POSITIVE: &str = "ERR count should be greater than 0";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
pub const UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
pub const SORT_NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub const MIN_MAX_NOT_STRING: &str = "ERR min or max not valid string range item";
pub const ZRANGE_LIMIT_RANK: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
pub const ZRANGE_WITHSCORES_LEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
pub const ZADD_NX_XX: &str = "ERR XX and NX options at the same time are not compatible";
pub const ZADD_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
pub const ZADD_INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
pub const ZADD_NAN: &str = "ERR resulting score is not a number (NaN)";
pub const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
pub const GEO_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";
pub const GEO_NO_MEMBER: &str = "ERR could not decode requested zset member";
pub const GEO_NEED_RADIUS: &str = "ERR need numeric radius";
pub const GEO_RADIUS_NEGATIVE: &str = "ERR radius cannot be negative";
pub const GEO_NEED_WIDTH: &str = "ERR need numeric width";
pub const GEO_NEED_HEIGHT: &str = "ERR need numeric height";
pub const GEO_BOX_NEGATIVE: &str = "ERR height or width cannot be negative";
pub const GEO_COUNT: &str = "ERR COUNT must be > 0";
pub const GEO_ANY_COUNT: &str = "ERR the ANY argument requires COUNT argument";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";

/// Redis's `getRangeLongFromObjectOrReply` message without a custom text.
pub fn out_of_range(min: i64, max: i64) -> Error {
    Error::from(format!(
        "ERR value is out of range, value must between {min} and {max}"
    ))
}

pub fn invalid_expire(cmd: &str) -> Error {
    Error::from(format!("ERR invalid expire time in '{cmd}' command"))
}

pub fn wrong_arity(cmd: &str) -> Error {
    Error::from(format!("ERR wrong number of arguments for '{cmd}' command"))
}

pub fn unsupported_option(opt: &[u8]) -> Error {
    Error::Owned([b"ERR Unsupported option ", c_str(opt)].concat())
}

impl From<String> for Error {
    fn from(s: String) -> Error {
        Error::Owned(s.into_bytes())
    }
}

/// Redis prints arguments with `%s`, which stops at the first NUL byte.
fn c_str(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// `%.*s`: at most `max` bytes, stopping at a NUL.
fn c_str_max(b: &[u8], max: usize) -> &[u8] {
    c_str(&b[..b.len().min(max)])
}

/// Redis's reply to a command it does not know, quoting up to 128 bytes
/// of the name and of the first arguments.
pub fn unknown_command<'a>(name: &[u8], args: impl Iterator<Item = &'a [u8]>) -> Error {
    let mut quoted = Vec::new();
    for a in args {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(c_str_max(a, room));
        quoted.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(c_str_max(name, 128));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&quoted);
    Error::Owned(msg)
}

pub fn hello_option(opt: &[u8]) -> Error {
    Error::Owned([b"ERR Syntax error in HELLO option '", c_str(opt), b"'"].concat())
}

/// `unknown subcommand 'x'. Try CONTAINER HELP.`, the container name
/// upper-cased as typed.
pub fn unknown_subcommand(sub: &[u8], container: &[u8]) -> Error {
    let mut msg = b"ERR unknown subcommand '".to_vec();
    msg.extend_from_slice(c_str_max(sub, 128));
    msg.extend_from_slice(b"'. Try ");
    msg.extend(c_str(container).iter().map(u8::to_ascii_uppercase));
    msg.extend_from_slice(b" HELP.");
    Error::Owned(msg)
}

/// Redis's `addReplySubcommandSyntaxError`, naming the subcommand as typed.
pub fn subcommand_syntax(sub: &[u8], container: &[u8]) -> Error {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(c_str_max(sub, 128));
    msg.extend_from_slice(b"'. Try ");
    msg.extend_from_slice(container);
    msg.extend_from_slice(b" HELP.");
    Error::Owned(msg)
}

pub fn protocol(e: resp::ProtoError) -> Error {
    Error::from(format!("ERR {e}"))
}

/// The text a non-loopback client gets in protected mode (Redis 7.0's).
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// A command refused while a RESP2 client is subscribed.
pub fn pubsub_context(name: &str) -> Error {
    Error::from(format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}

pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
pub const NUMKEYS_TOO_BIG: &str = "ERR Number of keys can't be greater than number of args";
pub const NUMKEYS_NEGATIVE: &str = "ERR Number of keys can't be negative";
pub const RO_SCRIPT_WRITE_FLAG: &str =
    "ERR Can not execute a script with write flag using *_ro command.";
