//! cargo fuzz run rdb_value: RESTORE's payload reader (every RDB value
//! type, listpacks, ziplists, intsets, streams) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rudis::rdb::value::exercise(data);
});
