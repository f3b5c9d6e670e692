using Grid.Policy.Model;

namespace Grid.Training.Benchmarks;

/// <summary>
/// Floating-point operations of the policy, counted from its shapes (a multiply-add is 2 FLOPs). Per decoder layer a
/// token costs 2 * 12 d^2 in the qkv, output and 4x MLP projections, plus 4 * d * (positions attended) in QK^T and AV.
/// Embedding lookups, norms and the softmax are left out: they are not matmuls and are small here.
/// </summary>
public static class ModelFlops
{
    public static double PerLayerMatmulParameters(PolicyConfig c) => 12.0 * c.DModel * c.DModel;

    /// <summary>Forward FLOPs of one token at position <paramref name="position"/> (0-based) through the blocks.</summary>
    public static double BlocksPerToken(PolicyConfig c, int position) =>
        c.Layers * ((2 * PerLayerMatmulParameters(c)) + (4.0 * c.DModel * (position + 1)));

    public static double LmHeadPerToken(PolicyConfig c) => 2.0 * c.DModel * c.VocabSize;

    public static double PatchEmbeddingPerPatch(PolicyConfig c) => 2.0 * c.PatchDimension * c.DModel;

    /// <summary>The convolutional stem's FLOPs per image (0 without one): a 3x3 convolution at full resolution, then two
    /// stride-2 ones, each output value a multiply-add over 9 * input channels.</summary>
    public static double StemPerImage(PolicyConfig c)
    {
        if (c.StemChannels == 0)
        {
            return 0;
        }

        double full = (double)c.ImageSize * c.ImageSize, half = full / 4, quarter = full / 16;
        double perOutput = 2.0 * 9 * c.StemChannels;
        return (full * 2.0 * 9 * c.Channels * c.StemChannels) + ((half + quarter) * perOutput * c.StemChannels);
    }

    /// <summary>Forward FLOPs of a whole sequence of <paramref name="length"/> positions (patches included), with the
    /// LM head applied at <paramref name="headPositions"/> of them.</summary>
    public static double Forward(PolicyConfig c, int length, int headPositions)
    {
        double flops = StemPerImage(c) + (c.PatchCount * PatchEmbeddingPerPatch(c)) + (headPositions * LmHeadPerToken(c));
        for (int t = 0; t < length; t++)
        {
            flops += BlocksPerToken(c, t);
        }

        return flops;
    }

    /// <summary>FLOPs to generate <paramref name="newTokens"/> after a prompt with a KV cache: the prefill forward over
    /// patches + prompt, then one token at a time, each attending to everything before it.</summary>
    public static double Generation(PolicyConfig c, int promptTokens, int newTokens)
    {
        int prefill = c.PatchCount + promptTokens;
        double flops = Forward(c, prefill, headPositions: 1);
        for (int i = 1; i < newTokens; i++)
        {
            flops += BlocksPerToken(c, prefill + i - 1) + LmHeadPerToken(c);
        }

        return flops;
    }

    /// <summary>One GRPO-D learner step on a sequence: reference forward (1x) + policy forward and backward (3x).</summary>
    public static double LearnerStep(PolicyConfig c, int promptTokens, int completionTokens) =>
        4 * Forward(c, c.PatchCount + promptTokens + completionTokens, headPositions: completionTokens);
}
