//! cargo fuzz run lua_libs: the decoders of the Lua libraries scripts
//! get (cjson, cmsgpack, struct, bit) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rudis::script::exercise_lua_libs(data);
});
