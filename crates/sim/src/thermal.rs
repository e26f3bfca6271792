//! Thermal vibration as a scenario section, `[thermal]`: frozen phonons with a root-mean-square
//! displacement per element.
//!
//! Frozen phonons (Loane, Xu & Silcox, Acta Cryst. A47 (1991) 267; Kirkland 2010 §7.4): each
//! configuration displaces every atom by an independent Gaussian of one-axis rms u_e (its
//! element's), drawn from the seed stream `"phonons"` with the configuration index, and the
//! patterns of all configurations are averaged incoherently. Averaged this way the coherent
//! interference between atoms j, l is damped by exp(−2π²(u_j² + u_l²)k²) — the Debye–Waller
//! factor — and the lost intensity reappears as thermal diffuse scattering.
//!
//! Default displacements: the Debye model at 295 K including zero-point motion,
//! B = (6h²/(m k_B θ_D))·(φ(x)/x + ¼), x = θ_D/T, u = √(B/8π²), with the elements' Debye
//! temperatures (Kittel, *Introduction to Solid State Physics*, 8th ed., Table 5.1 in ch. 5:
//! Zr 291 K, Co 445 K, Al 428 K): B = 0.45, 0.31, 0.73 Å². [est] A glass's vibrational
//! amplitudes are taken to be those of the crystalline element; measured room-temperature B of
//! Al is ≈ 0.85 Å², so the Debye values are lower bounds of the right size.

use std::collections::BTreeMap;

use mro_core::check::{count_in, in_range, InvalidValue};
use serde::{Deserialize, Serialize};

use crate::atoms::AtomVolume;
use crate::elements;
use crate::potential::ThermalModel;
use crate::simulate::ForwardOptions;

/// Default one-axis rms displacements in nm at 295 K (Debye model, see the module docs).
pub const DEFAULT_RMS_DISPLACEMENT_NM: [(&str, f64); 3] =
    [("Zr", 0.007_55), ("Co", 0.006_25), ("Al", 0.009_58)];

/// The `[thermal]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThermalSpec {
    /// Frozen-phonon configurations averaged per pattern; 0 = static atoms (the default: each
    /// configuration costs a full simulation).
    pub configurations: usize,
    /// One-axis rms displacement per element symbol, in nm. Every element of the sample needs
    /// one when `configurations > 0`.
    pub rms_displacement_nm: BTreeMap<String, f64>,
}

impl Default for ThermalSpec {
    fn default() -> Self {
        Self {
            configurations: 0,
            rms_displacement_nm: DEFAULT_RMS_DISPLACEMENT_NM
                .iter()
                .map(|&(s, u)| (s.to_string(), u))
                .collect(),
        }
    }
}

impl ThermalSpec {
    /// Checks each value.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        count_in("configurations", self.configurations, 0, 1000)?;
        for (symbol, &u) in &self.rms_displacement_nm {
            let field = format!("rms_displacement_nm.{symbol}");
            if elements::by_symbol(symbol).is_none() {
                return Err(InvalidValue::new(
                    field,
                    symbol,
                    "a chemical element symbol from H to Lr, capitalised as in `Zr`",
                ));
            }
            in_range(&field, u, 0.0, 0.05, " nm")?;
        }
        Ok(())
    }

    /// Checks that every element of `symbols` (the sample's) has a displacement when frozen
    /// phonons are on.
    ///
    /// # Errors
    /// The first element without one (field `rms_displacement_nm.<symbol>`).
    pub fn covers<'a>(
        &self,
        symbols: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), InvalidValue> {
        if self.configurations == 0 {
            return Ok(());
        }
        match symbols
            .into_iter()
            .find(|s| !self.rms_displacement_nm.contains_key(*s))
        {
            Some(symbol) => Err(InvalidValue::new(
                format!("rms_displacement_nm.{symbol}"),
                "(missing)",
                format!(
                    "a displacement in nm for every element of the sample when configurations > 0 ({symbol} has none)"
                ),
            )),
            None => Ok(()),
        }
    }

    /// The forward-model options for `atoms`: static, or frozen phonons with each element's
    /// displacement.
    ///
    /// # Errors
    /// With frozen phonons, an element of `atoms` that has no displacement (field
    /// `rms_displacement_nm.<symbol>`).
    pub fn forward_options(&self, atoms: &AtomVolume) -> Result<ForwardOptions, InvalidValue> {
        self.validate()?;
        if self.configurations == 0 {
            return Ok(ForwardOptions::default());
        }
        let mut zs: Vec<u8> = atoms.atomic_numbers.clone();
        zs.sort_unstable();
        zs.dedup();
        let mut by_z = Vec::with_capacity(zs.len());
        for z in zs {
            let symbol = elements::by_z(z).map_or_else(|| format!("Z{z}"), |e| e.symbol.clone());
            self.covers([symbol.as_str()])?;
            by_z.push((z, self.rms_displacement_nm[&symbol]));
        }
        Ok(ForwardOptions {
            thermal: ThermalModel::FrozenPhonon {
                u_rms_nm: 0.0,
                configurations: self.configurations,
            },
            u_rms_nm_by_z: by_z,
            ..ForwardOptions::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_static_with_debye_displacements() {
        let t = ThermalSpec::default();
        t.validate().unwrap();
        let mut v = AtomVolume::new([1.0, 1.0, 1.0]);
        v.push([0.5, 0.5, 0.5], 40);
        assert_eq!(t.forward_options(&v).unwrap(), ForwardOptions::default());
        // u = √(B/8π²): B(Zr) = 0.45 Å² ⇒ 0.0755 Å.
        let b_zr = t.rms_displacement_nm["Zr"].powi(2) * 8.0 * std::f64::consts::PI.powi(2);
        assert!((b_zr * 100.0 - 0.45).abs() < 0.01, "{b_zr}");
    }

    #[test]
    fn frozen_phonons_need_every_element() {
        let t = ThermalSpec {
            configurations: 4,
            ..ThermalSpec::default()
        };
        let mut v = AtomVolume::new([1.0, 1.0, 1.0]);
        v.push([0.5, 0.5, 0.5], 40);
        let o = t.forward_options(&v).unwrap();
        assert_eq!(o.u_rms_nm_by_z, vec![(40, 0.007_55)]);
        v.push([0.2, 0.5, 0.5], 29);
        let e = t.forward_options(&v).unwrap_err();
        assert_eq!(e.field, "rms_displacement_nm.Cu");
        let bad = ThermalSpec {
            configurations: 2,
            rms_displacement_nm: [("Zr".to_string(), -0.01)].into_iter().collect(),
        };
        assert_eq!(bad.validate().unwrap_err().field, "rms_displacement_nm.Zr");
    }
}
