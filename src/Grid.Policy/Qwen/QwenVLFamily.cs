namespace Grid.Policy.Qwen;

/// <summary>The two Hugging Face model types this port reads; they share the decoder and differ in the vision tower.</summary>
public enum QwenVLFamily
{
    /// <summary>model_type qwen2_vl: LayerNorm + QuickGELU MLP vision blocks, every block attends over the whole image.</summary>
    Qwen2VL,

    /// <summary>model_type qwen2_5_vl: RMSNorm + SwiGLU vision blocks, window attention except in fullatt blocks.</summary>
    Qwen25VL,
}
