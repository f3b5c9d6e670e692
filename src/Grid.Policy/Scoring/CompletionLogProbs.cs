using static TorchSharp.torch;

namespace Grid.Policy.Scoring;

/// <summary>
/// Per-token scores of a batch of completions, aligned so that column j is completion token j of each row.
/// </summary>
/// <param name="LogProbs">[B, Tmax] log pi(token | image, prompt, earlier tokens); differentiable; 0 where Mask is 0.</param>
/// <param name="Mask">[B, Tmax] float: 1 for completion tokens up to and including the first EOS, 0 after it and for padding.</param>
/// <param name="Entropy">[B, Tmax] entropy of the next-token distribution at each position (no gradient); 0 where Mask is 0.</param>
/// <param name="Lengths">Masked tokens per row (completion length through EOS).</param>
public sealed record CompletionLogProbs(Tensor LogProbs, Tensor Mask, Tensor Entropy, int[] Lengths) : IDisposable
{
    public void Dispose()
    {
        LogProbs.Dispose();
        Mask.Dispose();
        Entropy.Dispose();
    }
}
