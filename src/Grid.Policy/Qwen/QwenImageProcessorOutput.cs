namespace Grid.Policy.Qwen;

/// <summary>
/// One image as the vision tower takes it: <see cref="PixelValues"/> is [<see cref="Patches"/>,
/// <see cref="PatchValues"/>] row-major float32 (Hugging Face's pixel_values), the patch grid is
/// (<see cref="GridT"/>, <see cref="GridH"/>, <see cref="GridW"/>) (its image_grid_thw), and the image was resized
/// to <see cref="ResizedHeight"/> x <see cref="ResizedWidth"/> pixels first.
/// </summary>
public sealed record QwenImageProcessorOutput(
    float[] PixelValues,
    int Patches,
    int PatchValues,
    int GridT,
    int GridH,
    int GridW,
    int ResizedHeight,
    int ResizedWidth)
{
    /// <summary>How many &lt;|image_pad|&gt; tokens stand for the image: t * h * w / merge_size^2.</summary>
    public int TokenCount(int mergeSize) => GridT * GridH * GridW / (mergeSize * mergeSize);
}
