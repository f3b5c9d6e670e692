using static TorchSharp.torch;

namespace Grid.Policy.Qwen;

/// <summary>One image as the vision tower reads it: the processor's patches [t*h*w, C*T*P*P] and its grid in patches.</summary>
public sealed record QwenImagePatches(Tensor PixelValues, int T, int H, int W)
{
    public (int T, int H, int W) Grid => (T, H, W);
}
