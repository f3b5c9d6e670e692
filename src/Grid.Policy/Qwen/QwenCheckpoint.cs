namespace Grid.Policy.Qwen;

/// <summary>A loaded Hugging Face Qwen-VL folder: the float32 model, its config, and each tensor's dtype on disk.</summary>
/// <param name="SourceDTypes">Checkpoint key -> safetensors dtype (BF16, F16 or F32), what a save writes back.</param>
public sealed record QwenCheckpoint(QwenVLModel Model, QwenVLConfig Config, IReadOnlyDictionary<string, string> SourceDTypes);
