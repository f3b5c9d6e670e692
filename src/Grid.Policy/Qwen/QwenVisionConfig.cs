namespace Grid.Policy.Qwen;

/// <summary>
/// The vision tower's shape, the same fields for both families once read: Qwen2-VL's embed_dim / mlp_ratio /
/// hidden_size (= the merger's output) and Qwen2.5-VL's hidden_size / intermediate_size / out_hidden_size name the
/// same three widths differently.
/// </summary>
/// <param name="Width">The blocks' width (Qwen2-VL embed_dim, Qwen2.5-VL hidden_size).</param>
/// <param name="MlpHiddenSize">The blocks' MLP width (Qwen2-VL embed_dim * mlp_ratio, Qwen2.5-VL intermediate_size).</param>
/// <param name="OutHiddenSize">The merger's output width, the language model's hidden size.</param>
/// <param name="WindowSize">Qwen2.5-VL's attention window side in pixels; 0 for Qwen2-VL (no windows).</param>
/// <param name="FullAttentionBlocks">Qwen2.5-VL's blocks that attend over the whole image; empty for Qwen2-VL.</param>
public sealed record QwenVisionConfig(
    int Depth,
    int Width,
    int MlpHiddenSize,
    int OutHiddenSize,
    int NumHeads,
    int InChannels,
    int PatchSize,
    int SpatialMergeSize,
    int TemporalPatchSize,
    string HiddenAct,
    int WindowSize,
    IReadOnlyList<int> FullAttentionBlocks,
    int TokensPerSecond)
{
    public int HeadDim => Width / NumHeads;

    /// <summary>Patches merged into one language-model token (spatial_merge_size squared).</summary>
    public int MergeUnit => SpatialMergeSize * SpatialMergeSize;

    /// <summary>Values per flattened patch: channels x temporal_patch_size x patch_size x patch_size.</summary>
    public int PatchDimension => InChannels * TemporalPatchSize * PatchSize * PatchSize;

    /// <summary>A window's side in merged tokens (Qwen2.5-VL's vit_merger_window_size).</summary>
    public int WindowSideInMergedTokens => WindowSize / SpatialMergeSize / PatchSize;
}
