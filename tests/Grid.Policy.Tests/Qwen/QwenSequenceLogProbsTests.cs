using Grid.Policy.Qwen;
using Grid.Policy.Scoring;
using static TorchSharp.torch;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenSequenceLogProbsTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    [Theory]
    [MemberData(nameof(QwenReferenceCases.All), MemberType = typeof(QwenReferenceCases))]
    public void Completion_log_probs_of_one_row_match_transformers(string family, string name)
    {
        var c = QwenReference.Case(family, name);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        using var scores = SequenceLogProbs.Compute(
            QwenReference.Policy(family), [QwenReference.ImageOf(c)], [c.Prompt], [c.CompletionIds], stopAtEndOfCompletion: false);

        Assert.Equal([c.CompletionIds.Length], scores.Lengths);
        double difference = QwenReference.MaxAbsDifference(scores.LogProbs[0].data<float>().ToArray(), c.CompletionLogProbs);
        output.WriteLine($"{family} {name}: max |log-prob diff| = {difference:E2} over {c.CompletionIds.Length} tokens");
        Assert.InRange(difference, 0, Tolerance);
    }

    [Theory]
    [MemberData(nameof(QwenReferenceCases.Families), MemberType = typeof(QwenReferenceCases))]
    public void A_right_padded_batch_of_every_case_scores_each_row_as_transformers_does(string family)
    {
        var cases = QwenReference.CasesOf(family);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        using var scores = SequenceLogProbs.Compute(QwenReference.Policy(family), cases.Select(QwenReference.ImageOf).ToList(),
            cases.Select(c => c.Prompt).ToList(), cases.Select(c => c.CompletionIds).ToList(), stopAtEndOfCompletion: false);

        double worst = 0;
        for (int b = 0; b < cases.Count; b++)
        {
            var row = scores.LogProbs[b].narrow(0, 0, cases[b].CompletionIds.Length).data<float>().ToArray();
            worst = Math.Max(worst, QwenReference.MaxAbsDifference(row, cases[b].CompletionLogProbs));
            Assert.Equal(cases[b].CompletionIds.Length, (int)scores.Mask[b].sum().item<float>());
        }

        output.WriteLine($"{family}: batch of {cases.Count}, max |log-prob diff| = {worst:E2}");
        Assert.InRange(worst, 0, Tolerance);
    }

    [Theory]
    [MemberData(nameof(QwenReferenceCases.All), MemberType = typeof(QwenReferenceCases))]
    public void The_last_hidden_states_match_transformers(string family, string name)
    {
        var c = QwenReference.Case(family, name);
        var model = QwenReference.Checkpoint(family).Model;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var image = QwenReference.PixelsOf(c);
        var embeds = image is { } pixels ? model.EncodeImages(pixels.PixelValues, [pixels.Grid]) : null;
        var positions = tensor(c.PositionIds.SelectMany(axis => axis).ToArray(), [3, 1, c.InputIds.Length]);

        var hidden = model.HiddenStates(tensor(c.InputIds.Select(i => (long)i).ToArray(), [1, c.InputIds.Length]), positions,
            keyIsReal: null, embeds);

        var last = hidden[0].narrow(0, c.InputIds.Length - 4, 4).contiguous().data<float>().ToArray();
        double difference = QwenReference.MaxAbsDifference(last, c.LastHidden.Data);
        output.WriteLine($"{family} {name}: max |last hidden diff| = {difference:E2}");
        Assert.InRange(difference, 0, Tolerance);
    }

    [Theory]
    [MemberData(nameof(QwenReferenceCases.Families), MemberType = typeof(QwenReferenceCases))]
    public void Left_padding_under_a_key_mask_leaves_the_real_positions_hidden_states_as_transformers_has_them(string family)
    {
        const int pad = 5;
        var c = QwenReference.Case(family, "wide_90x150");
        var checkpoint = QwenReference.Checkpoint(family);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int[] ids = [.. Enumerable.Repeat(0, pad), .. c.InputIds];
        bool[] real = [.. Enumerable.Repeat(false, pad), .. Enumerable.Repeat(true, c.InputIds.Length)];
        var (positions, _) = QwenRopeIndex.Compute(checkpoint.Config, ids, [c.Grid!.Value], real);
        var image = QwenReference.PixelsOf(c)!.Value;

        var hidden = checkpoint.Model.HiddenStates(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]),
            tensor(positions.SelectMany(axis => axis).ToArray(), [3, 1, ids.Length]), tensor(real, [1, ids.Length]),
            checkpoint.Model.EncodeImages(image.PixelValues, [image.Grid]));

        var last = hidden[0].narrow(0, ids.Length - 4, 4).contiguous().data<float>().ToArray();
        double difference = QwenReference.MaxAbsDifference(last, c.LastHidden.Data);
        output.WriteLine($"{family}: left-padded by {pad}, max |last hidden diff| = {difference:E2}");
        Assert.InRange(difference, 0, Tolerance);
    }

    [Fact]
    public void The_log_probs_carry_gradient_to_the_decoder_and_the_vision_tower()
    {
        var c = QwenReference.Case(QwenReference.Qwen25VL, "square_48");
        using var model = HuggingFaceCheckpoint.LoadPolicy(QwenReference.CheckpointFolder(QwenReference.Qwen25VL));
        using var scope = NewDisposeScope();

        using var scores = SequenceLogProbs.Compute(model, [QwenReference.ImageOf(c)], [c.Prompt], [c.CompletionIds]);
        scores.LogProbs.sum().backward();

        var gradients = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        foreach (string name in new[] { "visual.patch_embed.proj.weight", "visual.blocks.0.attn.qkv.weight",
                     "visual.merger.mlp.2.weight", "model.layers.0.self_attn.q_proj.bias", "model.embed_tokens.weight", "lm_head.weight" })
        {
            var grad = gradients[name];
            Assert.NotNull(grad);
            Assert.True(grad.isfinite().all().item<bool>(), $"{name} has a non-finite gradient");
            Assert.True(grad.abs().sum().item<float>() > 0, $"{name} has a zero gradient");
        }
    }
}
