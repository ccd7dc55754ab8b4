"""Low-rank adaptation of the frozen encoder (SARTM)."""

from rgbt_models.lora.qv_lora import QVLoRA, StreamLoRAQKV, add_qv_lora

__all__ = ["QVLoRA", "StreamLoRAQKV", "add_qv_lora"]
