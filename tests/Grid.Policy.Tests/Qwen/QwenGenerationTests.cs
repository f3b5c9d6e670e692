using Grid.Policy.Generation;
using Grid.Policy.Qwen;
using Grid.Policy.Scoring;
using Grid.Tasks.Images;
using static TorchSharp.torch;
using Generator = Grid.Policy.Generation.Generator;

namespace Grid.Policy.Tests.Qwen;

/// <summary>
/// Sampling from a Qwen2-VL-family checkpoint through Grid's continuous batch: left-padded prompts of different
/// lengths (with and without an image) and rows joining mid-decode compute what the full forward computes, so the
/// sampler's log-probs are the learner's old log-probs.
/// </summary>
public sealed class QwenGenerationTests
{
    private const int NewTokens = 10;

    public static TheoryData<string> Families => new() { "qwen2_vl_tiny", "qwen2_5_vl_tiny" };

    [Theory]
    [MemberData(nameof(Families))]
    public void Sampled_log_probs_equal_the_full_forward_of_the_sampled_completions(string checkpoint)
    {
        using var model = HuggingFaceCheckpoint.LoadPolicy(QwenTestData.PathOf(checkpoint));
        var requests = Requests(model);
        var results = Generator.SampleFromPolicy(model, requests, NewTokens);

        using var inference = inference_mode();
        using var scores = SequenceLogProbs.Compute(model, requests.Select(r => (RgbImage?)r.Image).ToArray(),
            requests.Select(r => r.PromptTokens).ToArray(), results.Select(r => r.Tokens).ToArray());
        var full = scores.LogProbs.cpu().data<float>().ToArray();
        int width = (int)scores.LogProbs.shape[1];
        for (int b = 0; b < requests.Length; b++)
        {
            Assert.Equal(results[b].Tokens.Length, scores.Lengths[b]);
            for (int t = 0; t < results[b].Tokens.Length; t++)
            {
                Assert.Equal(full[(b * width) + t], results[b].LogProbs[t], 1e-4f);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Rows_that_join_mid_decode_get_the_completions_they_get_alone(string checkpoint)
    {
        using var model = HuggingFaceCheckpoint.LoadPolicy(QwenTestData.PathOf(checkpoint));
        var requests = Requests(model);
        var settings = GenerationSettings.PolicyDistribution(NewTokens);
        var alone = requests.Select(r => Generator.Generate(model, [r], settings)[0]).ToArray();

        var joined = new GenerationResult[requests.Length];
        using (var batch = new ContinuousBatch(model, settings, maxRows: 8))
        {
            batch.Admit(requests[..1], "first");
            Collect(batch.Step(), 0);
            Collect(batch.Step(), 0);
            batch.Admit(requests[1..], "rest");
            while (!batch.IsEmpty)
            {
                Collect(batch.Step(), 1);
            }
        }

        for (int b = 0; b < requests.Length; b++)
        {
            Assert.Equal(alone[b].Tokens, joined[b].Tokens);
            for (int t = 0; t < alone[b].LogProbs.Length; t++)
            {
                Assert.Equal(alone[b].LogProbs[t], joined[b].LogProbs[t], 1e-4f);
            }
        }

        void Collect(IReadOnlyList<FinishedRequest> finished, int offset)
        {
            foreach (var done in finished)
            {
                joined[done.Index + ((string)done.Owner == "first" ? 0 : 1)] = done.Result;
            }
        }
    }

    /// <summary>Prompts of different lengths and image sizes, one row without an image; every row its own seed.</summary>
    private static GenerationRequest[] Requests(QwenVLModel model)
    {
        var square = Image("square_48.png");
        var wide = Image("wide_90x150.png");
        var processor = model.Processor;
        return
        [
            new(wide, processor.EncodePrompt(wide, "Which shape is at the top left corner?").InputIds, 11),
            new(square, processor.EncodePrompt(square, "How many red circles are in the image?").InputIds, 12),
            new(square, processor.EncodePrompt(square, "Count.").InputIds, 13),
            new(square, processor.EncodePrompt(null, "What is 12 + 30? Think first.").InputIds, 14),
        ];
    }

    private static RgbImage Image(string name) => PolicyImage.Decode(File.ReadAllBytes(QwenTestData.PathOf(Path.Combine("images", name))));
}
