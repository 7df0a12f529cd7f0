//! The codec (R-INDEX-4): the centroids and the residual buckets every segment is coded with.

use std::path::Path;

use super::container::{
    self, Kind, Tick, VERSION, VERSION_ANISO, VERSION_FAR, VERSION_PRODUCT, bytes_of, view,
};
use super::manifest::{Entry, ROLE_CODEC};
use super::{fail, usize_of};
use crate::Result;
use crate::index::kmeans::MAX_CENTROIDS;
use crate::index::quantize::{self, Aniso, Buckets};

/// The codec: centroids and buckets (R-INDEX-4), copied out of its file.
#[derive(Clone, Debug)]
pub struct Codec {
    pub dim: usize,
    pub k: usize,
    pub seed: u64,
    pub sample: u64,
    pub iters: u64,
    pub centroids: Vec<f32>,
    pub buckets: Buckets,
    pub metadata: String,
    /// R-INDEX-18: the far threshold, as a squared residual norm (`None`: a version 1 codec,
    /// which records none).
    pub far: Option<f64>,
    pub header_crc: u32,
    /// The decoding table of `Buckets::table`.
    pub table: Vec<f32>,
}

impl Codec {
    /// The format version of this codec's file and of its segments' (R-INDEX-4): 4 with
    /// R-QUANT-8's parameters, else 3 with product rows, else 2 when it records a far threshold,
    /// else 1.
    pub fn version(&self) -> u32 {
        if self.buckets.aniso.is_some() {
            VERSION_ANISO
        } else if self.buckets.product.is_some() {
            VERSION_PRODUCT
        } else if self.far.is_some() {
            VERSION_FAR
        } else {
            VERSION
        }
    }

    /// Writes the codec file (`tick`: see `container::write_temp`); returns its manifest entry.
    pub fn write(&self, dir: &Path, name: &str, tick: &mut Tick) -> Result<Entry> {
        let mut fields = vec![
            self.dim as u64,
            self.buckets.nbits as u64,
            self.k as u64,
            self.seed,
            self.sample,
            self.iters,
        ];
        // R-INDEX-4, R-INDEX-18: version 2 records the far threshold in a seventh field.
        if let Some(t) = self.far {
            fields.push(t.to_bits());
        }
        let version = self.version();
        let mut sections: Vec<&[u8]> = vec![
            bytes_of(&self.centroids),
            bytes_of(&self.buckets.cutoffs),
            bytes_of(&self.buckets.weights),
            self.metadata.as_bytes(),
        ];
        // R-INDEX-4, R-QUANT-6: version 3 adds the product rows and their iterations.
        if let Some(rows) = &self.buckets.product {
            fields.push(quantize::PRODUCT_ITERS as u64);
            sections.push(bytes_of(rows));
        }
        // R-INDEX-4, R-QUANT-8: version 4 adds the weight along the token and the passes.
        if let Some(a) = self.buckets.aniso {
            fields.push(a.weight.to_bits());
            fields.push(a.sweeps as u64);
        }
        let (len, header_crc) = container::write_atomic_version(
            dir,
            name,
            Kind::Codec,
            version,
            &fields,
            &sections,
            tick,
        )?;
        Ok(Entry {
            role: ROLE_CODEC,
            len,
            header_crc,
            name: name.to_string(),
        })
    }

    /// Reads and checks the codec file (R-INDEX-4).
    pub fn read(dir: &Path, e: &Entry) -> Result<Codec> {
        let map = e.map(dir)?;
        Codec::from_bytes(&map, &e.name, Some(e))
    }

    /// Parses and checks the bytes of the codec file `f` (R-INDEX-2, R-INDEX-4); with `entry`,
    /// its header CRC must be the one the entry names (R-INDEX-3). Allocates no more than the
    /// sections' bytes before every check has passed, then the decoding table (1 KiB per
    /// dimension).
    pub fn from_bytes(bytes: &[u8], f: &str, entry: Option<&Entry>) -> Result<Codec> {
        let layouts = [
            (VERSION, 6, 4),
            (VERSION_FAR, 7, 4),
            (VERSION_PRODUCT, 8, 5),
            (VERSION_ANISO, 10, 5),
        ];
        let p =
            container::parse_versions(bytes, f, Kind::Codec, &layouts, &|_| true, &mut |_| Ok(()))?;
        if let Some(e) = entry {
            e.check_crc(p.header_crc)?;
        }
        // R-INDEX-18: a finite, non-negative squared norm.
        let far = match p.fields.get(6) {
            Some(&bits) => {
                let t = f64::from_bits(bits);
                if !(t.is_finite() && t >= 0.0) {
                    return Err(fail(
                        f,
                        format!("far threshold {t} is not a finite number >= 0"),
                    ));
                }
                Some(t)
            }
            None => None,
        };
        let dim = usize_of(p.fields[0], f, "dim")?;
        let nbits = quantize::check_nbits(p.fields[1].min(64) as i64)
            .map_err(|_| fail(f, format!("nbits {} is not 1, 2 or 4", p.fields[1])))?;
        let k = usize_of(p.fields[2], f, "K")?;
        if dim == 0 || dim > 1 << 20 || k == 0 || k > MAX_CENTROIDS {
            return Err(fail(f, format!("dim {dim} or K {k} out of range")));
        }
        let b = 1usize << nbits;
        let centroids = view::<f32>(p.sections[0], k * dim, f, "centroids")?.to_vec();
        let cutoffs = view::<f32>(p.sections[1], dim * (b - 1), f, "cutoffs")?.to_vec();
        let weights = view::<f32>(p.sections[2], dim * b, f, "bucket values")?.to_vec();
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !finite(&centroids) || !finite(&cutoffs) || !finite(&weights) {
            return Err(fail(
                f,
                "a centroid, cutoff or bucket value is not finite".into(),
            ));
        }
        if cutoffs
            .chunks_exact(b - 1)
            .any(|c| c.windows(2).any(|w| w[0] > w[1]))
        {
            return Err(fail(f, "cutoffs are not non-decreasing".into()));
        }
        // R-INDEX-4: a version 3 codec's product rows, finite, for every full code byte.
        let product = match p.sections.get(4) {
            Some(section) => {
                let n = quantize::full_bytes(dim, nbits) * 256 * (8 / nbits);
                let rows = view::<f32>(section, n, f, "product rows")?.to_vec();
                if !finite(&rows) {
                    return Err(fail(f, "a product row value is not finite".into()));
                }
                if p.fields[7] > 1000 {
                    return Err(fail(
                        f,
                        format!("product iterations {} > 1000", p.fields[7]),
                    ));
                }
                Some(rows)
            }
            None => None,
        };
        if product.is_some() && far.is_none() {
            return Err(fail(f, "a version 3 codec records no far threshold".into()));
        }
        // R-INDEX-4, R-QUANT-8: a version 4 codec's weight (at least 1, finite) and passes.
        let aniso = match p.fields.get(8..10) {
            Some(&[bits, sweeps]) => {
                let weight = f64::from_bits(bits);
                if !(weight.is_finite() && (1.0..=1e6).contains(&weight)) {
                    return Err(fail(
                        f,
                        format!("the weight along the token {weight} is not in 1..=1e6"),
                    ));
                }
                if sweeps > 1000 {
                    return Err(fail(f, format!("coding passes {sweeps} > 1000")));
                }
                Some(Aniso {
                    weight,
                    sweeps: sweeps as usize,
                })
            }
            _ => None,
        };
        let metadata = std::str::from_utf8(p.sections[3])
            .map_err(|_| fail(f, "metadata is not UTF-8".into()))?
            .to_string();
        Ok(Codec {
            dim,
            k,
            seed: p.fields[3],
            sample: p.fields[4],
            iters: p.fields[5],
            centroids,
            buckets: Buckets {
                nbits,
                cutoffs,
                weights,
                product,
                aniso,
            },
            table: Vec::new(),
            metadata,
            far,
            header_crc: p.header_crc,
        })
        .map(|mut c: Codec| {
            c.table = c.buckets.table(dim);
            c
        })
    }
}
