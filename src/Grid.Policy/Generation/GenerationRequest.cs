using Grid.Tasks.Images;

namespace Grid.Policy.Generation;

/// <summary>One completion to sample: the image, the prompt tokens (see PromptFormat.EncodePrompt), and the seed
/// that alone decides the sampling noise of this completion.</summary>
public sealed record GenerationRequest(RgbImage Image, int[] PromptTokens, ulong Seed);
