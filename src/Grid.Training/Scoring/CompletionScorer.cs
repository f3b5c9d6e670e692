using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Policy.Qwen;
using Grid.Policy.Scoring;
using Grid.Tasks.Images;
using Grid.Training.Data;
using static TorchSharp.torch;

namespace Grid.Training.Scoring;

/// <summary>
/// <c>grid score</c>'s work: the log-probabilities of a completion after a prompt (and image) under a checkpoint, Grid's
/// own or a Hugging Face Qwen2-VL / Qwen2.5-VL folder. Runs synchronously on the calling thread (torch work).
/// </summary>
public static class CompletionScorer
{
    /// <param name="imageFile">The image file's bytes (PNG, JPEG, ...), or null for a text-only prompt (Qwen only).</param>
    public static CompletionScore Score(string checkpoint, byte[]? imageFile, string prompt, string completion)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(completion);
        return PolicyFolder.IsHuggingFace(checkpoint)
            ? ScoreHuggingFace(checkpoint, imageFile, prompt, completion)
            : ScoreGrid(checkpoint, imageFile, prompt, completion);
    }

    private static CompletionScore ScoreGrid(string checkpoint, byte[]? imageFile, string prompt, string completion)
    {
        if (imageFile is null)
        {
            throw new InvalidDataException(
                $"'{checkpoint}' is one of Grid's own checkpoints, whose policy always reads an image: pass one with --image.");
        }

        var tokenizer = RunData.TokenizerOf(checkpoint);
        var (policy, config) = PolicyCheckpoint.Load(checkpoint, tokenizer);
        using (policy)
        {
            var image = PolicyImage.Decode(imageFile, config.ImageSize);
            int[] promptIds = PromptFormat.EncodePrompt(prompt, tokenizer);
            int[] completionIds = tokenizer.Encode(completion);
            RequireRoom(promptIds.Length, completionIds.Length, config.MaxTextLength,
                $"the policy's room for text ({config.MaxTextLength} tokens after its {config.PatchCount} image patches)");
            double[] logProbs = LogProbs(policy, image, promptIds, completionIds);
            int[] inputIds = [.. promptIds, .. completionIds];
            return new CompletionScore(Path.GetFullPath(checkpoint), "grid", prompt, inputIds, promptIds.Length,
                completionIds.Select(id => tokenizer.Decode([id])).ToArray(), logProbs, null, null,
                [Enumerable.Range(0, inputIds.Length).Select(i => (long)i).ToArray()], null);
        }
    }

    private static CompletionScore ScoreHuggingFace(string checkpoint, byte[]? imageFile, string prompt, string completion)
    {
        using var model = HuggingFaceCheckpoint.LoadPolicy(checkpoint);
        var processor = model.Processor;
        var image = imageFile is null ? null : PolicyImage.Decode(imageFile);
        var encoded = processor.EncodePrompt(image, prompt);
        int[] completionIds = processor.EncodeCompletion(completion);
        var config = model.Config;
        RequireRoom(encoded.InputIds.Length, completionIds.Length, model.MaxTextLength,
            $"the checkpoint's context (max_position_embeddings {config.MaxPositionEmbeddings})");
        double[] logProbs = LogProbs(model, image, encoded.InputIds, completionIds);
        int[] inputIds = [.. encoded.InputIds, .. completionIds];
        var grids = encoded.Image is { } pixels ? new[] { (pixels.GridT, pixels.GridH, pixels.GridW) } : [];
        var (positions, delta) = QwenRopeIndex.Compute(config, inputIds, grids);
        return new CompletionScore(Path.GetFullPath(checkpoint), config.ModelType, encoded.Text, inputIds, encoded.InputIds.Length,
            completionIds.Select(id => processor.Tokenizer.Decode([id], skipSpecialTokens: false)).ToArray(), logProbs,
            encoded.Image is { } p ? [p.GridT, p.GridH, p.GridW] : null,
            encoded.Image is { } r ? [r.ResizedHeight, r.ResizedWidth] : null,
            positions, delta);
    }

    /// <summary>Every completion token is scored, an end-of-turn token included, whatever follows it.</summary>
    private static double[] LogProbs(PolicyModel policy, RgbImage? image, int[] promptIds, int[] completionIds)
    {
        if (completionIds.Length == 0)
        {
            return [];
        }

        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        policy.eval();
        using var scores = SequenceLogProbs.Compute(policy, [image], [promptIds], [completionIds], stopAtEndOfCompletion: false);
        return scores.LogProbs[0].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
    }

    private static void RequireRoom(int promptTokens, int completionTokens, int room, string what)
    {
        if (promptTokens + completionTokens > room)
        {
            throw new InvalidDataException(
                $"The prompt ({promptTokens} tokens) and completion ({completionTokens} tokens) make {promptTokens + completionTokens} " +
                $"tokens, more than {what}. Shorten the prompt or the completion.");
        }
    }
}
