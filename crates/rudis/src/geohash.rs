//! Geohashes as Redis computes them: 26 bits of longitude and 26 of
//! latitude (within the Web Mercator limits) interleaved into the 52-bit
//! integer a geo set stores as each member's score, the cell arithmetic
//! GEOSEARCH uses to pick the cells that cover a shape, and the haversine
//! distance on Redis's Earth radius. Same inputs, same doubles as Redis,
//! so a geo set written by either server answers the same on the other.

pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const STEP_MAX: u8 = 26;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

/// A cell: `step` bits of each coordinate, interleaved (0/0 is "none").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    pub fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Latitude in the even bits, longitude in the odd ones.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// The cell of (longitude, latitude) at `step` within the given ranges;
/// `None` outside them (or outside the Mercator limits).
pub fn encode_in(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Bits> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Bits {
        bits: interleave(lat_offset as u32, lon_offset as u32),
        step,
    })
}

fn wgs84() -> (Range, Range) {
    (
        Range {
            min: LONG_MIN,
            max: LONG_MAX,
        },
        Range {
            min: LAT_MIN,
            max: LAT_MAX,
        },
    )
}

pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Bits> {
    let (lo, la) = wgs84();
    encode_in(lo, la, lon, lat, step)
}

/// A member's score for (longitude, latitude): the 26-step cell, as 52
/// bits.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(lon, lat, STEP_MAX).map(align52)
}

pub fn align52(h: Bits) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

pub fn decode_in(lon_r: Range, lat_r: Range, h: Bits) -> Option<Area> {
    if h.is_zero() {
        return None;
    }
    let lat_i = squash(h.bits);
    let lon_i = squash(h.bits >> 1);
    let cells = (1u64 << h.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    Some(Area {
        latitude: Range {
            min: lat_r.min + (lat_i as f64 / cells) * lat_scale,
            max: lat_r.min + ((lat_i as f64 + 1.0) / cells) * lat_scale,
        },
        longitude: Range {
            min: lon_r.min + (lon_i as f64 / cells) * lon_scale,
            max: lon_r.min + ((lon_i as f64 + 1.0) / cells) * lon_scale,
        },
    })
}

pub fn decode(h: Bits) -> Option<Area> {
    let (lo, la) = wgs84();
    decode_in(lo, la, h)
}

/// The (longitude, latitude) a member's score stands for: the centre of
/// its cell, held within the limits.
pub fn position_of(score: f64) -> Option<(f64, f64)> {
    let area = decode(Bits {
        bits: c_to_u64(score),
        step: STEP_MAX,
    })?;
    let lon = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((lon, lat))
}

/// C's `(uint64_t)d` as GCC compiles it on x86-64 (`cvttsd2si`, with
/// 2^63 taken off first for large values), for scores that are no
/// geohash: out of range gives 2^63, not a saturated value.
fn c_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    let cvt = |v: f64| -> i64 {
        if v.is_nan() || !(-TWO63..TWO63).contains(&v) {
            i64::MIN
        } else {
            v as i64
        }
    };
    if d >= TWO63 {
        (cvt(d - TWO63) as u64) ^ (1 << 63)
    } else {
        cvt(d) as u64
    }
}

/// Moves a cell one step along the coordinate in the bits of `mask`
/// (odd bits: longitude, east; even bits: latitude, north), `d` the
/// direction.
fn step_along(h: &mut Bits, mask: u64, d: i8) {
    if d == 0 {
        return;
    }
    let width = 64 - h.step as u32 * 2;
    let mut along = h.bits & mask;
    let other = h.bits & !mask;
    let zz = !mask >> width;
    if d > 0 {
        along = along.wrapping_add(zz + 1);
    } else {
        along |= zz;
        along = along.wrapping_sub(zz + 1);
    }
    along &= mask >> width;
    h.bits = along | other;
}

fn move_x(h: &mut Bits, d: i8) {
    step_along(h, 0xaaaa_aaaa_aaaa_aaaa, d);
}

fn move_y(h: &mut Bits, d: i8) {
    step_along(h, 0x5555_5555_5555_5555, d);
}

/// The cells to search, in Redis's order: the centre cell, then north,
/// south, east, west, north-east, north-west, south-east, south-west
/// (zeroed when useless).
pub type Cells = [Bits; 9];

fn neighbours(h: Bits) -> Cells {
    let at = |dx: i8, dy: i8| {
        let mut n = h;
        move_x(&mut n, dx);
        move_y(&mut n, dy);
        n
    };
    [
        h,
        at(0, 1),
        at(0, -1),
        at(1, 0),
        at(-1, 0),
        at(1, 1),
        at(-1, 1),
        at(1, -1),
        at(-1, -1),
    ]
}

fn deg_rad(a: f64) -> f64 {
    a * (std::f64::consts::PI / 180.0)
}

fn rad_deg(a: f64) -> f64 {
    a / (std::f64::consts::PI / 180.0)
}

fn estimate_steps(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut r = range_meters;
    let mut step: i32 = 1;
    while r < MERCATOR_MAX {
        r *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What a search covers: a circle of `radius` or a box of `width` by
/// `height`, in meters, around (lon, lat).
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Circle { radius: f64 },
    Box { width: f64, height: f64 },
}

/// The bounding box of a shape: (min lon, min lat, max lon, max lat).
fn bounding_box(lon: f64, lat: f64, shape: Shape) -> [f64; 4] {
    let (height, width) = match shape {
        Shape::Circle { radius } => (radius, radius),
        Shape::Box { width, height } => (height / 2.0, width / 2.0),
    };
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    let south = lat < 0.0;
    let delta = if south {
        long_delta_bottom
    } else {
        long_delta_top
    };
    [lon - delta, lat - lat_delta, lon + delta, lat + lat_delta]
}

/// The cells covering `shape` around (lon, lat), as Redis's
/// `geohashCalculateAreasByShapeWGS84` picks them.
pub fn cells_for(lon: f64, lat: f64, shape: Shape) -> Cells {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(lon, lat, shape);
    let radius = match shape {
        Shape::Circle { radius } => radius,
        Shape::Box { width, height } => ((width / 2.0).powi(2) + (height / 2.0).powi(2)).sqrt(),
    };
    let mut steps = estimate_steps(radius, lat);
    let mut hash = encode(lon, lat, steps).unwrap_or_default();
    let mut cells = neighbours(hash);
    let mut area = decode(hash).unwrap_or_default();
    let edge = |c: Bits| decode(c).unwrap_or_default();
    let decrease = edge(cells[1]).latitude.max < max_lat
        || edge(cells[2]).latitude.min > min_lat
        || edge(cells[3]).longitude.max < max_lon
        || edge(cells[4]).longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        hash = encode(lon, lat, steps).unwrap_or_default();
        cells = neighbours(hash);
        area = decode(hash).unwrap_or_default();
    }
    if steps >= 2 {
        let zero = |cells: &mut Cells, which: &[usize]| {
            for &i in which {
                cells[i] = Bits::default();
            }
        };
        // north 1, south 2, east 3, west 4, ne 5, nw 6, se 7, sw 8
        if area.latitude.min < min_lat {
            zero(&mut cells, &[2, 8, 7]);
        }
        if area.latitude.max > max_lat {
            zero(&mut cells, &[1, 5, 6]);
        }
        if area.longitude.min < min_lon {
            zero(&mut cells, &[4, 8, 6]);
        }
        if area.longitude.max > max_lon {
            zero(&mut cells, &[3, 7, 5]);
        }
    }
    cells
}

/// The score interval `[min, max)` of a cell's members.
pub fn score_range(h: Bits) -> (f64, f64) {
    let min = align52(h);
    let max = align52(Bits {
        bits: h.bits + 1,
        step: h.step,
    });
    (min as f64, max as f64)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine distance in meters.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// The distance from the centre if (x, y) lies within `shape` around
/// (cx, cy), as Redis tests it.
pub fn within(cx: f64, cy: f64, shape: Shape, x: f64, y: f64) -> Option<f64> {
    match shape {
        Shape::Circle { radius } => {
            let d = distance(cx, cy, x, y);
            (d <= radius).then_some(d)
        }
        Shape::Box { width, height } => {
            if lat_distance(y, cy) > height / 2.0 {
                return None;
            }
            if distance(x, y, cx, y) > width / 2.0 {
                return None;
            }
            Some(distance(cx, cy, x, y))
        }
    }
}

/// GEOHASH's 11 characters: the position re-encoded over latitude
/// -90..90 (the standard geohash), 52 bits in base 32, the last
/// character always `0`.
pub fn text(lon: f64, lat: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let h = encode_in(
        Range {
            min: -180.0,
            max: 180.0,
        },
        Range {
            min: -90.0,
            max: 90.0,
        },
        lon,
        lat,
        26,
    )?;
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        let idx = (h.bits >> (52 - (i as u32 + 1) * 5)) & 0x1f;
        *c = ALPHABET[idx as usize];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_positions_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo": Redis stores
        // 3479099956230698 and GEOPOS answers 13.36138933897018433,
        // 38.11555639549629859.
        let s = score_of(13.361389, 38.115556).unwrap();
        assert_eq!(s, 3479099956230698);
        let (lon, lat) = position_of(s as f64).unwrap();
        assert!((lon - 13.361389338970184).abs() < 1e-12);
        assert!((lat - 38.1155563954963).abs() < 1e-12);
        assert_eq!(&text(lon, lat).unwrap(), b"sqc8b49rny0");
        let palermo = position_of(3479099956230698.0).unwrap();
        let catania = position_of(score_of(15.087269, 37.502669).unwrap() as f64).unwrap();
        let d = distance(palermo.0, palermo.1, catania.0, catania.1);
        assert!((d - 166274.1516).abs() < 0.001);
    }
}
