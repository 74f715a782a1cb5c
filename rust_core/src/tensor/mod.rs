//! Float32 tensors and paged memory: SIMD kernels, LoRA merging, exact vector search and the KV-cache block manager.

pub mod kv_cache;
pub mod lora;
pub mod simd;
pub mod vector_search;
