//! ACL: users, their rules and what they allow, AUTH as a user, the ACL
//! LOG, the ACL file. Expected bytes are Redis 7.0.15's (checked with
//! `RUDIS_TEST_REFERENCE=redis-server`).

mod common;

use common::{rudis, Raw};

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

fn cmd(c: &mut Raw, line: &str) -> Vec<u8> {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    c.cmd(&args)
}

fn text(v: Vec<u8>) -> String {
    String::from_utf8_lossy(&v).into_owned()
}

#[test]
fn acl_list_describes_rules_as_redis() {
    let s = rudis(&[]);
    let mut c = s.raw();
    for (rules, line) in [
        ("+get", "user a off resetchannels -@all +get"),
        ("+@string -get", "user a off resetchannels -@all +@string -get"),
        ("-@all +@read -@write +get", "user a off resetchannels -@all +@read"),
        ("+get +@all -set", "user a off resetchannels +@all -set"),
        ("+@all -@all +get", "user a off resetchannels -@all +get"),
        ("+config -config|set +CONFIG|SET", "user a off resetchannels -@all +config"),
        ("+client|list +client -client|kill", "user a off resetchannels -@all +client -client|kill"),
        ("+client -client +client|id", "user a off resetchannels -@all +client|id"),
        ("+@all -@admin", "user a off resetchannels +@all -@admin"),
        ("+@all -@keyspace +del", "user a off resetchannels +@all -@keyspace +del"),
        ("+select|0", "user a off resetchannels -@all +select|0"),
        ("on >pw ~foo* %R~bar &ch* +@all -@dangerous +config|get",
         "user a on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~foo* %R~bar resetchannels &ch* +@all -@dangerous +config|get"),
        ("(+get ~x) (+set %W~y)", "user a off resetchannels -@all (~x resetchannels -@all +get) (%W~y resetchannels -@all +set)"),
        ("%R~k %W~k %W~w", "user a off ~k %W~w resetchannels -@all"),
        ("reset", "user a off sanitize-payload resetchannels -@all"),
        (">p nopass >q", "user a off #8e35c2cd3bf6641bdb0e2050b76932cbb2e6034a0ddacc1d9bea82a6ba57f7cf resetchannels -@all"),
        ("allkeys allchannels allcommands", "user a off ~* &* +@all"),
    ] {
        cmd(&mut c, "ACL DELUSER a");
        assert_eq!(text(cmd(&mut c, &format!("ACL SETUSER a {rules}"))), "+OK\r\n", "{rules}");
        let list = text(cmd(&mut c, "ACL LIST"));
        assert!(list.contains(&text(bulk(line))), "{rules}: {list}");
    }
    assert_eq!(
        text(cmd(&mut c, "ACL LIST")),
        format!(
            "*2\r\n{}{}",
            text(bulk("user a off ~* &* +@all")),
            text(bulk("user default on nopass ~* &* +@all"))
        )
    );
}

#[test]
fn acl_getuser_and_users() {
    let s = rudis(&[]);
    let mut c = s.raw();
    cmd(
        &mut c,
        "ACL SETUSER u on >pw ~foo* %R~bar &ch* +@all -@dangerous +config|get (+get ~x)",
    );
    let mut expected = b"*12\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$9\r\npasswords\r\n*1\r\n$64\r\n30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4\r\n$8\r\ncommands\r\n$29\r\n+@all -@dangerous +config|get\r\n$4\r\nkeys\r\n$12\r\n~foo* %R~bar\r\n$8\r\nchannels\r\n$4\r\n&ch*\r\n$9\r\nselectors\r\n*1\r\n".to_vec();
    expected.extend_from_slice(b"*6\r\n$8\r\ncommands\r\n$10\r\n-@all +get\r\n$4\r\nkeys\r\n$2\r\n~x\r\n$8\r\nchannels\r\n$0\r\n\r\n");
    assert_eq!(text(cmd(&mut c, "ACL GETUSER u")), text(expected));
    assert_eq!(
        cmd(&mut c, "ACL GETUSER default"),
        b"*12\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n"
    );
    assert_eq!(cmd(&mut c, "ACL GETUSER nosuch"), b"$-1\r\n");
    assert_eq!(
        cmd(&mut c, "ACL USERS"),
        b"*2\r\n$7\r\ndefault\r\n$1\r\nu\r\n"
    );
    assert_eq!(cmd(&mut c, "ACL WHOAMI"), b"$7\r\ndefault\r\n");
    assert_eq!(cmd(&mut c, "ACL DELUSER u nosuch"), b":1\r\n");
    assert_eq!(
        cmd(&mut c, "ACL DELUSER default"),
        b"-ERR The 'default' user cannot be removed\r\n"
    );
}

#[test]
fn acl_setuser_errors_are_redis_texts() {
    let s = rudis(&[]);
    let mut c = s.raw();
    let modifier =
        |m: &str, why: &str| format!("-ERR Error in ACL SETUSER modifier '{m}': {why}\r\n");
    let syntax = "Syntax error";
    for (rule, expected) in [
        ("%~a", modifier("%~a", syntax)),
        ("%RR~a", modifier("%RR~a", syntax)),
        ("bogus", modifier("bogus", syntax)),
        ("+select|", modifier("+select|", syntax)),
        ("+@bogus", modifier("+@bogus", "Unknown command or category name in ACL")),
        ("-select|0", modifier("-select|0", "Unknown command or category name in ACL")),
        ("+config|get|x", modifier("+config|get|x", "Allowing first-arg of a subcommand is not supported")),
        ("<nope", modifier("<nope", "The password you are trying to remove from the user does not exist")),
        ("#abc", modifier("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")),
        ("~* ~a", modifier("~a", "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")),
        ("&* &a", modifier("&a", "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")),
        ("(+get bogus)", modifier("(+get bogus)", syntax)),
        ("(+get", "-ERR Unmatched parenthesis in acl selector starting at '(+get'.\r\n".into()),
    ] {
        assert_eq!(text(cmd(&mut c, &format!("ACL SETUSER e {rule}"))), expected, "{rule}");
    }
    // Nothing of a refused SETUSER is applied.
    assert_eq!(cmd(&mut c, "ACL USERS"), b"*1\r\n$7\r\ndefault\r\n");
    assert_eq!(
        c.cmd(&[b"ACL", b"SETUSER", b"a b"]),
        b"-ERR Usernames can't contain spaces or null characters\r\n"
    );
}

#[test]
fn permissions_of_commands_keys_and_channels() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    cmd(&mut admin, "ACL SETUSER lim on >pw ~k* %R~r* %W~w* &ch +get +set +publish +subscribe +psubscribe +select|0 +client|id (+hget ~h*)");
    let mut c = s.raw();
    assert_eq!(cmd(&mut c, "AUTH lim pw"), b"+OK\r\n");
    assert_eq!(
        cmd(&mut c, "ACL WHOAMI"),
        b"-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n"
    );
    let key =
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    let channel =
        b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n";
    assert_eq!(cmd(&mut c, "GET k1"), b"$-1\r\n");
    assert_eq!(cmd(&mut c, "GET z1"), key);
    assert_eq!(cmd(&mut c, "GET r1"), b"$-1\r\n");
    assert_eq!(cmd(&mut c, "SET r1 v"), key);
    assert_eq!(cmd(&mut c, "SET w1 v"), b"+OK\r\n");
    assert_eq!(cmd(&mut c, "GET w1"), key);
    // The selector allowing HGET refuses the key: the more telling error.
    assert_eq!(cmd(&mut c, "HGET k1 f"), key);
    assert_eq!(
        cmd(&mut c, "HSET k1 f v"),
        b"-NOPERM this user has no permissions to run the 'hset' command\r\n"
    );
    assert_eq!(cmd(&mut c, "HGET h1 f"), b"$-1\r\n");
    assert_eq!(cmd(&mut c, "SELECT 0"), b"+OK\r\n");
    assert_eq!(
        cmd(&mut c, "SELECT 1"),
        b"-NOPERM this user has no permissions to run the 'select' command\r\n"
    );
    assert_eq!(cmd(&mut c, "CLIENT ID").first(), Some(&b':'));
    assert_eq!(cmd(&mut c, "PUBLISH zz m"), channel);
    assert_eq!(cmd(&mut c, "PUBLISH ch m"), b":0\r\n");
    // A pattern must be one of the user's patterns as written.
    assert_eq!(cmd(&mut c, "PSUBSCRIBE c*"), channel);
    // AUTH, HELLO and the like are always allowed.
    assert_eq!(cmd(&mut c, "AUTH lim pw"), b"+OK\r\n");

    for (line, expected) in [
        ("ACL DRYRUN lim get k", "+OK\r\n".to_string()),
        (
            "ACL DRYRUN lim get z",
            text(bulk("This user has no permissions to access the 'z' key")),
        ),
        (
            "ACL DRYRUN lim publish zz m",
            text(bulk(
                "This user has no permissions to access the 'zz' channel",
            )),
        ),
        (
            "ACL DRYRUN lim hset k f v",
            text(bulk(
                "This user has no permissions to run the 'hset' command",
            )),
        ),
        (
            "ACL DRYRUN lim hget k f",
            text(bulk("This user has no permissions to access the 'k' key")),
        ),
        (
            "ACL DRYRUN lim client list",
            text(bulk(
                "This user has no permissions to run the 'client|list' command",
            )),
        ),
        (
            "ACL DRYRUN nouser get k",
            "-ERR User 'nouser' not found\r\n".into(),
        ),
        (
            "ACL DRYRUN lim nocmd k",
            "-ERR Command 'nocmd' not found\r\n".into(),
        ),
        (
            "ACL DRYRUN lim get",
            "-ERR wrong number of arguments for 'get' command\r\n".into(),
        ),
    ] {
        assert_eq!(text(cmd(&mut admin, line)), expected, "{line}");
    }
}

#[test]
fn auth_as_users_and_reset() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    let mut c = s.raw();
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    cmd(&mut admin, "ACL SETUSER u1 >secret +@all");
    // Off until switched on.
    assert_eq!(cmd(&mut c, "AUTH u1 secret"), wrongpass);
    cmd(&mut admin, "ACL SETUSER u1 on");
    assert_eq!(cmd(&mut c, "AUTH u1 wrong"), wrongpass);
    assert_eq!(cmd(&mut c, "AUTH u1 secret"), b"+OK\r\n");
    assert_eq!(cmd(&mut c, "ACL WHOAMI"), b"$2\r\nu1\r\n");
    let list = text(cmd(&mut admin, "CLIENT LIST"));
    assert!(list.contains(" user=u1 "), "{list}");
    assert!(list.contains(" user=default "), "{list}");
    assert_eq!(cmd(&mut c, "RESET"), b"+RESET\r\n");
    assert_eq!(cmd(&mut c, "ACL WHOAMI"), b"$7\r\ndefault\r\n");
    let hello = text(c.cmd(&[b"HELLO", b"2", b"AUTH", b"u1", b"secret"]));
    assert!(hello.starts_with("*14\r\n"), "{hello}");
    assert_eq!(cmd(&mut c, "ACL WHOAMI"), b"$2\r\nu1\r\n");
    // A password on the default user makes new connections authenticate.
    assert_eq!(
        cmd(&mut admin, "AUTH x"),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    cmd(&mut admin, "CONFIG SET requirepass pw");
    let list = text(cmd(&mut admin, "ACL LIST"));
    assert!(list.contains("user default on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* &* +@all"), "{list}");
    let mut fresh = s.raw();
    assert_eq!(
        cmd(&mut fresh, "PING"),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(cmd(&mut fresh, "AUTH pw"), b"+OK\r\n");
    assert_eq!(cmd(&mut fresh, "RESET"), b"+RESET\r\n");
    assert_eq!(
        cmd(&mut fresh, "PING"),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(cmd(&mut fresh, "AUTH default pw"), b"+OK\r\n");
    fresh.cmd(&[b"CONFIG", b"SET", b"requirepass", b""]);
    assert!(text(cmd(&mut fresh, "ACL LIST")).contains("user default on nopass ~* &* +@all"));
    // CLIENT KILL USER.
    assert_eq!(cmd(&mut admin, "CLIENT KILL USER u1"), b":1\r\n");
    assert!(c.closed());
    assert_eq!(
        cmd(&mut admin, "CLIENT KILL USER nosuch"),
        b"-ERR No such user 'nosuch'\r\n"
    );
}

#[test]
fn acl_log_records_refusals() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    cmd(&mut admin, "ACL SETUSER lim on >pw ~k* +get");
    let mut c = s.raw();
    cmd(&mut c, "AUTH lim pw");
    cmd(&mut c, "GET z1");
    cmd(&mut c, "GET z1");
    cmd(&mut c, "HGET k f");
    cmd(&mut c, "AUTH nouser bad");
    let log = text(cmd(&mut admin, "ACL LOG"));
    assert!(log.starts_with("*3\r\n"), "{log}");
    let entries: Vec<&str> = log.split("$5\r\ncount\r\n").skip(1).collect();
    assert!(entries[0].starts_with(":1\r\n$6\r\nreason\r\n$4\r\nauth\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$4\r\nAUTH\r\n$8\r\nusername\r\n$6\r\nnouser\r\n$11\r\nage-seconds\r\n"), "{}", entries[0]);
    assert!(entries[1].starts_with(":1\r\n$6\r\nreason\r\n$7\r\ncommand\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$4\r\nhget\r\n$8\r\nusername\r\n$3\r\nlim\r\n"), "{}", entries[1]);
    assert!(entries[2].starts_with(":2\r\n$6\r\nreason\r\n$3\r\nkey\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$2\r\nz1\r\n"), "{}", entries[2]);
    assert!(entries[2].contains("cmd=get user=lim"), "{}", entries[2]);
    assert_eq!(
        text(cmd(&mut admin, "ACL LOG 1"))
            .matches("$5\r\ncount\r\n")
            .count(),
        1
    );
    assert_eq!(
        cmd(&mut admin, "ACL LOG 1 2"),
        b"-ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.\r\n"
    );
    assert_eq!(cmd(&mut admin, "ACL LOG RESET"), b"+OK\r\n");
    assert_eq!(cmd(&mut admin, "ACL LOG"), b"*0\r\n");
}

#[test]
fn transactions_check_when_queued_and_when_run() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    cmd(&mut admin, "ACL SETUSER lim on >pw ~* +get +multi +exec");
    let mut c = s.raw();
    cmd(&mut c, "AUTH lim pw");
    cmd(&mut c, "MULTI");
    assert_eq!(
        cmd(&mut c, "HGET k f"),
        b"-NOPERM this user has no permissions to run the 'hget' command\r\n"
    );
    assert_eq!(
        cmd(&mut c, "EXEC"),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    cmd(&mut c, "MULTI");
    assert_eq!(cmd(&mut c, "GET k"), b"+QUEUED\r\n");
    cmd(&mut admin, "ACL SETUSER lim -get");
    assert_eq!(
        cmd(&mut c, "EXEC"),
        b"*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n"
    );
    let log = text(cmd(&mut admin, "ACL LOG 1"));
    assert!(log.contains("$7\r\ncontext\r\n$5\r\nmulti\r\n"), "{log}");
}

#[test]
fn scripts_run_with_the_callers_permissions() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    cmd(
        &mut admin,
        "ACL SETUSER bob on >123 +@scripting +set +publish ~x* &ch",
    );
    let mut c = s.raw();
    cmd(&mut c, "AUTH bob 123");
    let eval = |c: &mut Raw, body: &str, keys: &[&str]| {
        let n = keys.len().to_string();
        let mut args: Vec<&[u8]> = vec![b"EVAL", body.as_bytes(), n.as_bytes()];
        args.extend(keys.iter().map(|k| k.as_bytes()));
        text(c.cmd(&args))
    };
    assert_eq!(
        eval(&mut c, "return redis.acl_check_cmd('set','xx',1)", &["xx"]),
        ":1\r\n"
    );
    assert_eq!(
        eval(
            &mut c,
            "return redis.acl_check_cmd('hset','xx','f',1)",
            &["xx"]
        ),
        "$-1\r\n"
    );
    assert_eq!(
        eval(&mut c, "return redis.acl_check_cmd('set','yy',1)", &[]),
        "$-1\r\n"
    );
    let e = eval(
        &mut c,
        "return redis.acl_check_cmd('invalid-cmd','arg')",
        &[],
    );
    assert!(
        e.starts_with("-ERR Invalid command passed to redis.acl_check_cmd()"),
        "{e}"
    );
    let e = eval(&mut c, "return redis.call('set','yy','1')", &[]);
    assert!(e.starts_with("-ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script:"), "{e}");
    let e = eval(&mut c, "return redis.call('hget','x','f')", &[]);
    assert!(
        e.starts_with(
            "-ERR The user executing the script can't run this command or subcommand script:"
        ),
        "{e}"
    );
    let e = eval(&mut c, "return redis.call('publish','zz','m')", &[]);
    assert!(e.starts_with("-ERR The user executing the script can't publish to the channel mentioned in the command script:"), "{e}");
    let log = text(cmd(&mut admin, "ACL LOG 1"));
    assert!(
        log.contains("$7\r\ncontext\r\n$3\r\nlua\r\n$6\r\nobject\r\n$2\r\nzz\r\n"),
        "{log}"
    );
    assert!(log.contains("cmd=eval user=bob"), "{log}");
}

#[test]
fn deleted_users_and_revoked_channels_disconnect() {
    let s = rudis(&[]);
    let mut admin = s.raw();
    cmd(&mut admin, "ACL SETUSER sub on nopass ~* &ch* +@all");
    let mut plain = s.raw();
    assert_eq!(cmd(&mut plain, "AUTH sub x"), b"+OK\r\n");
    let mut subscriber = s.raw();
    cmd(&mut subscriber, "AUTH sub x");
    assert_eq!(
        cmd(&mut subscriber, "SUBSCRIBE ch1"),
        b"*3\r\n$9\r\nsubscribe\r\n$3\r\nch1\r\n:1\r\n"
    );
    // Still allowed: the subscriber stays.
    cmd(&mut admin, "ACL SETUSER sub resetchannels &ch1");
    assert_eq!(cmd(&mut admin, "PUBLISH ch1 hi"), b":1\r\n");
    assert_eq!(
        subscriber.reply(),
        b"*3\r\n$7\r\nmessage\r\n$3\r\nch1\r\n$2\r\nhi\r\n"
    );
    cmd(&mut admin, "ACL SETUSER sub resetchannels &other");
    assert!(subscriber.closed());
    assert_eq!(cmd(&mut plain, "PING"), b"+PONG\r\n");
    assert_eq!(cmd(&mut admin, "ACL DELUSER sub"), b":1\r\n");
    assert!(plain.closed());
}

#[test]
fn acl_file_save_load_and_start() {
    let dir = std::env::temp_dir().join(format!("rudis-acl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.acl");
    std::fs::write(
        &file,
        "user alice on >pw ~a* +get\n\nuser default on nopass ~* &* +@all\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let s = rudis(&["--aclfile", path]);
    let mut c = s.raw();
    assert_eq!(
        cmd(&mut c, "ACL LIST"),
        [
            "*2\r\n".to_string(),
            text(bulk("user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* resetchannels -@all +get")),
            text(bulk("user default on nopass ~* &* +@all")),
        ]
        .concat()
        .into_bytes()
    );
    cmd(&mut c, "ACL SETUSER bob on nopass +ping");
    assert_eq!(cmd(&mut c, "ACL SAVE"), b"+OK\r\n");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(saved, "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* resetchannels -@all +get\nuser bob on nopass resetchannels -@all +ping\nuser default on nopass ~* &* +@all\n");
    let mut bob = s.raw();
    cmd(&mut bob, "AUTH bob x");
    std::fs::write(&file, "user carol on nopass +@all\n").unwrap();
    assert_eq!(cmd(&mut c, "ACL LOAD"), b"+OK\r\n");
    assert_eq!(
        cmd(&mut c, "ACL USERS"),
        b"*2\r\n$5\r\ncarol\r\n$7\r\ndefault\r\n"
    );
    // Users are replaced as a whole: their connections go.
    assert!(bob.closed());
    std::fs::write(&file, "user dave on +nosuch\nbogus\n").unwrap();
    let e = text(cmd(&mut c, "ACL LOAD"));
    assert!(e.starts_with("-ERR "), "{e}");
    assert!(
        e.contains(
            ":1: Error in applying operation '+nosuch': Unknown command or category name in ACL."
        ),
        "{e}"
    );
    assert!(
        e.contains(":2 should start with user keyword followed by the username."),
        "{e}"
    );
    assert!(e.ends_with("WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n"), "{e}");
    assert_eq!(
        cmd(&mut c, "ACL USERS"),
        b"*2\r\n$5\r\ncarol\r\n$7\r\ndefault\r\n"
    );
    drop(s);

    // Without an ACL file, SAVE and LOAD refuse.
    let s = rudis(&["--user", "eve", "on", "nopass", "+get"]);
    let mut c = s.raw();
    let no_file = b"-ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.\r\n";
    assert_eq!(cmd(&mut c, "ACL SAVE"), no_file);
    assert_eq!(cmd(&mut c, "ACL LOAD"), no_file);
    assert!(text(cmd(&mut c, "ACL LIST")).contains("user eve on nopass resetchannels -@all +get"));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn disabling_deny_scripts_lets_scripts_call_noscript_commands() {
    let s = rudis(&["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    let call = |c: &mut Raw| text(c.cmd(&[b"EVAL", b"return redis.call('client','id')", b"0"]));
    assert!(call(&mut c).starts_with("-ERR This Redis command is not allowed from script"));
    assert_eq!(cmd(&mut c, "DEBUG SET-DISABLE-DENY-SCRIPTS 1"), b"+OK\r\n");
    assert_eq!(call(&mut c).as_bytes().first(), Some(&b':'));
    assert_eq!(cmd(&mut c, "DEBUG SET-DISABLE-DENY-SCRIPTS 0"), b"+OK\r\n");
    assert!(call(&mut c).starts_with("-ERR This Redis command is not allowed from script"));
}

#[test]
fn config_rewrite_keeps_users_in_the_config_file() {
    let dir = std::env::temp_dir().join(format!("rudis-acl-rw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("rudis.conf");
    std::fs::write(&conf, "user old on nopass +ping\n").unwrap();
    let path = conf.to_str().unwrap();
    let s = common::Proc::spawn(
        common::rudis_bin(),
        &[path, "--bind", "127.0.0.1", "--save", ""],
    );
    let mut c = s.raw();
    assert!(text(cmd(&mut c, "ACL LIST")).contains("user old on nopass resetchannels -@all +ping"));
    cmd(&mut c, "ACL DELUSER old");
    cmd(&mut c, "ACL SETUSER zed on >x ~k* +get");
    assert_eq!(cmd(&mut c, "CONFIG REWRITE"), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains("user default on nopass ~* &* +@all\nuser zed on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~k* resetchannels -@all +get\n"),
        "{text}"
    );
    assert!(!text.contains("user old"), "{text}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn acl_setuser_is_redacted_in_the_slow_log() {
    let s = rudis(&[]);
    let mut c = s.raw();
    cmd(&mut c, "CONFIG SET slowlog-log-slower-than 0");
    cmd(&mut c, "ACL SETUSER red on >secret +get");
    let reply = text(cmd(&mut c, "SLOWLOG GET 1"));
    assert!(
        reply.contains("*6\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n"),
        "{reply}"
    );
    assert!(!reply.contains("secret"), "{reply}");
}

/// Runs rudis expecting it not to start; its output (both streams).
fn start_fails(args: &[&str]) -> String {
    let out = std::process::Command::new(common::rudis_bin())
        .args(["--port", &common::free_port().to_string(), "--save", ""])
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn bad_user_declarations_stop_the_start() {
    // Redis names the word at the failing rule's index counted from
    // `user` itself (here the user's name).
    let out = start_fails(&["--user", "a", "on", "%RR~x"]);
    assert!(
        out.contains("Error in user declaration 'a': Syntax error"),
        "{out}"
    );
    let out = start_fails(&["--user", "a", "on", "--user", "a", "off"]);
    assert!(out.contains("Error in user declaration 'a': Duplicate user found. A user can only be defined once in config files"), "{out}");
    let dir = std::env::temp_dir().join(format!("rudis-acl-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("u.acl");
    std::fs::write(&file, "user x on +nosuch\n").unwrap();
    let path = file.to_str().unwrap();
    let out = start_fails(&["--aclfile", path]);
    assert!(out.contains(&format!("Aborting Redis startup because of ACL errors: {path}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL.")), "{out}");
    let out = start_fails(&["--aclfile", path, "--user", "a", "on"]);
    assert!(out.contains("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid."), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
