using Grid.Policy.Qwen;
using static TorchSharp.torch;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenKvCacheTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    /// <summary>
    /// Every case of a family in one batch: prompts left-padded to the longest, each row with its own rope delta
    /// (text-only 0, images negative), prefilled, then the completions fed one token per step (teacher forcing).
    /// </summary>
    [Theory]
    [MemberData(nameof(QwenReferenceCases.Families), MemberType = typeof(QwenReferenceCases))]
    public void Left_padded_prefill_then_one_token_steps_give_the_full_forwards_log_probs(string family)
    {
        var cases = QwenReference.CasesOf(family);
        var checkpoint = QwenReference.Checkpoint(family);
        var model = checkpoint.Model;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int batch = cases.Count, promptLength = cases.Max(c => c.CompletionStart), steps = cases.Max(c => c.CompletionIds.Length);
        var ids = new long[batch * promptLength];
        var real = new bool[batch * promptLength];
        var positions = new long[3 * batch * promptLength];
        var deltas = new long[batch];
        for (int b = 0; b < batch; b++)
        {
            var c = cases[b];
            int pad = promptLength - c.CompletionStart;
            int[] row = [.. Enumerable.Repeat(0, pad), .. c.Prompt];
            bool[] mask = [.. Enumerable.Repeat(false, pad), .. Enumerable.Repeat(true, c.CompletionStart)];
            var (rowPositions, delta) = QwenRopeIndex.Compute(checkpoint.Config, row, c.Grid is { } g ? [g] : [], mask);
            deltas[b] = delta;
            for (int j = 0; j < promptLength; j++)
            {
                ids[(b * promptLength) + j] = row[j];
                real[(b * promptLength) + j] = mask[j];
                for (int axis = 0; axis < 3; axis++)
                {
                    positions[(((axis * batch) + b) * promptLength) + j] = rowPositions[axis][j];
                }
            }
        }

        Assert.True(deltas.Distinct().Count() > 2, $"the rows should have different rope deltas: {string.Join(", ", deltas)}");
        var images = cases.Select(QwenSequenceLogProbsTests.Image).Where(i => i is not null).Select(i => i!).ToList();
        var embeds = model.EncodeImages(cat(images.Select(i => i.PixelValues).ToList(), dim: 0), images.Select(i => i.Grid).ToList());
        using var cache = model.NewCache(batch, promptLength + steps);

        var logits = model.Prefill(tensor(ids, [batch, promptLength]), tensor(positions, [3, batch, promptLength]),
            tensor(real, [batch, promptLength]), embeds, deltas, cache);
        var decoded = new double[batch][];
        for (int b = 0; b < batch; b++)
        {
            decoded[b] = new double[cases[b].CompletionIds.Length];
        }

        for (int step = 0; step < steps; step++)
        {
            var logProbs = logits.log_softmax(-1);
            var next = new long[batch];
            for (int b = 0; b < batch; b++)
            {
                var completion = cases[b].CompletionIds;
                if (step < completion.Length)
                {
                    decoded[b][step] = logProbs[b, completion[step]].item<float>();
                    next[b] = completion[step];
                }
            }

            if (step + 1 < steps)
            {
                logits = model.DecodeStep(tensor(next), cache);
            }
        }

        using var full = QwenSequenceLogProbs.Compute(model, cases.Select(c => c.Prompt).ToList(),
            cases.Select(c => c.CompletionIds).ToList(), cases.Select(QwenSequenceLogProbsTests.Image).ToList());
        double worstAgainstFull = 0, worstAgainstReference = 0;
        for (int b = 0; b < batch; b++)
        {
            var fullRow = full.LogProbs[b].narrow(0, 0, cases[b].CompletionIds.Length).data<float>().ToArray();
            worstAgainstFull = Math.Max(worstAgainstFull,
                QwenReference.MaxAbsDifference(fullRow, decoded[b].Select(v => v).ToArray()));
            worstAgainstReference = Math.Max(worstAgainstReference,
                QwenReference.MaxAbsDifference(decoded[b].Select(v => (float)v).ToArray(), cases[b].CompletionLogProbs));
        }

        output.WriteLine($"{family}: deltas [{string.Join(", ", deltas)}]; max |cached - full| = {worstAgainstFull:E2}, " +
            $"max |cached - reference| = {worstAgainstReference:E2}");
        Assert.InRange(worstAgainstFull, 0, Tolerance);
        Assert.InRange(worstAgainstReference, 0, Tolerance);
    }

    [Fact]
    public void A_decode_step_without_a_prefill_is_refused()
    {
        var model = QwenReference.Checkpoint(QwenReference.Qwen2VL).Model;
        using var cache = model.NewCache(1, 4);

        var e = Assert.Throws<InvalidOperationException>(() => model.DecodeStep(tensor(new long[] { 1 }), cache));

        Assert.Contains("prefilled cache", e.Message);
    }
}
