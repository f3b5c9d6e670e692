using Grid.Policy.Generation;
using Grid.Policy.Scoring;
using Grid.Tasks.Images;
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
        var model = QwenReference.Policy(family);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int batch = cases.Count, promptLength = cases.Max(c => c.CompletionStart), steps = cases.Max(c => c.CompletionIds.Length);
        Assert.True(cases.Select(c => c.RopeDelta).Distinct().Count() > 2,
            $"the rows should have different rope deltas: {string.Join(", ", cases.Select(c => c.RopeDelta))}");
        var anyImage = cases.Select(QwenReference.ImageOf).First(i => i is not null)!;
        // A text-only row's prompt holds no image tokens, so the image it carries is never read.
        var requests = cases.Select(c => new GenerationRequest(QwenReference.ImageOf(c) ?? anyImage, c.Prompt, 0)).ToArray();
        using var cache = model.NewCache(batch, promptLength + steps);

        var logits = model.Prefill(requests, promptLength, cache);
        var decoded = cases.Select(c => new double[c.CompletionIds.Length]).ToArray();
        for (int step = 0; step < steps; step++)
        {
            var logProbs = logits.log_softmax(-1);
            var next = new long[batch];
            var positions = new long[batch];
            for (int b = 0; b < batch; b++)
            {
                var completion = cases[b].CompletionIds;
                if (step < completion.Length)
                {
                    decoded[b][step] = logProbs[b, completion[step]].item<float>();
                    next[b] = completion[step];
                }

                positions[b] = cases[b].Prompt.Length + step; // the fed token's index in its own row
            }

            if (step + 1 < steps)
            {
                logits = model.DecodeStep(tensor(next), tensor(positions), cache);
            }
        }

        using var full = SequenceLogProbs.Compute(model, cases.Select(QwenReference.ImageOf).ToList(),
            cases.Select(c => c.Prompt).ToList(), cases.Select(c => c.CompletionIds).ToList(), stopAtEndOfCompletion: false);
        double worstAgainstFull = 0, worstAgainstReference = 0;
        for (int b = 0; b < batch; b++)
        {
            var fullRow = full.LogProbs[b].narrow(0, 0, cases[b].CompletionIds.Length).data<float>().ToArray();
            worstAgainstFull = Math.Max(worstAgainstFull, QwenReference.MaxAbsDifference(fullRow, decoded[b]));
            worstAgainstReference = Math.Max(worstAgainstReference,
                QwenReference.MaxAbsDifference(decoded[b].Select(v => (float)v).ToArray(), cases[b].CompletionLogProbs));
        }

        output.WriteLine($"{family}: deltas [{string.Join(", ", cases.Select(c => c.RopeDelta))}]; max |cached - full| = " +
            $"{worstAgainstFull:E2}, max |cached - reference| = {worstAgainstReference:E2}");
        Assert.InRange(worstAgainstFull, 0, Tolerance);
        Assert.InRange(worstAgainstReference, 0, Tolerance);
    }

    [Fact]
    public void A_decode_step_without_a_prefill_is_refused()
    {
        var model = QwenReference.Policy(QwenReference.Qwen2VL);
        using var cache = model.NewCache(1, 4);

        var e = Assert.Throws<InvalidOperationException>(() => model.DecodeStep(tensor(new long[] { 1 }), tensor(new long[] { 0 }), cache));

        Assert.Contains("prefilled cache", e.Message);
    }
}
