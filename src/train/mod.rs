//! `mlgate train`: load the data, split it by hash, fit the preprocessing and the model, and
//! write the model directory and `predictions.csv` on the evaluation rows.

pub mod artifact;
pub mod external;
pub mod features;
pub mod split;
pub mod table;
