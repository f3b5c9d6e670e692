using static TorchSharp.torch;

namespace Grid.Policy.Qwen;

/// <summary>
/// The vision tower's intermediate results, for comparing them with transformers': the patch embedding (original
/// order), each block's output (in the order the blocks hold the patches: window-permuted for Qwen2.5-VL) and the
/// window index. Copies, detached from the graph; dispose the trace when done.
/// </summary>
public sealed class QwenVisionTrace : IDisposable
{
    private readonly List<Tensor> _blocks = [];

    public Tensor? PatchEmbed { get; private set; }

    public IReadOnlyList<Tensor> Blocks => _blocks;

    /// <summary>Qwen2.5-VL's window_index (merged token order the blocks see); null for Qwen2-VL.</summary>
    public IReadOnlyList<long>? WindowIndex { get; private set; }

    internal void Record(Tensor hidden, int? block)
    {
        var copy = hidden.detach().clone().DetachFromDisposeScope();
        if (block is null)
        {
            PatchEmbed = copy;
        }
        else
        {
            _blocks.Add(copy);
        }
    }

    internal void RecordWindowIndex(long[] index) => WindowIndex = index;

    public void Dispose()
    {
        PatchEmbed?.Dispose();
        foreach (var block in _blocks)
        {
            block.Dispose();
        }
    }
}
