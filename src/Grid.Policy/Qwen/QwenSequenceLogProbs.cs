using Grid.Policy.Scoring;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Qwen;

/// <summary>
/// Log-probabilities of GIVEN completions under a Qwen-VL model (for the learner with gradient, or the reference
/// model under no_grad). One right-padded forward over [prompt (image tokens expanded)][completion], each row at its
/// own M-RoPE positions; the hidden state before completion token j (index prompt + j - 1) is gathered before the LM
/// head, so only completion positions pay for the vocabulary projection. A completion counts up to and including
/// its first EOS (config.json's eos_token_id).
/// </summary>
public static class QwenSequenceLogProbs
{
    /// <param name="images">Per row its image, or null for a text-only prompt.</param>
    /// <param name="temperature">Divides the logits first; 1 scores the model itself.</param>
    public static CompletionLogProbs Compute(QwenVLModel model, IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> completions,
        IReadOnlyList<QwenImagePatches?> images, double temperature = 1.0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(completions);
        ArgumentNullException.ThrowIfNull(images);
        int batch = prompts.Count;
        if (completions.Count != batch || images.Count != batch || batch == 0)
        {
            throw new ArgumentException(
                $"Need one prompt, completion and image (or null) per row and at least one row; got {prompts.Count} prompts, " +
                $"{completions.Count} completions and {images.Count} images.");
        }

        if (!(temperature > 0) || !double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Temperature must be finite and above 0.");
        }

        var config = model.Config;
        var lengths = new int[batch];
        var rows = new int[batch][];
        var rowPositions = new long[batch][][];
        int maxCompletion = 1, maxText = 1;
        for (int b = 0; b < batch; b++)
        {
            if (prompts[b] is not { Length: > 0 } || completions[b] is null)
            {
                throw new ArgumentException($"Row {b}: the prompt must not be empty and the completion must not be null.");
            }

            EnsureInVocabulary(prompts[b], config.VocabSize, $"The prompt of row {b}");
            EnsureInVocabulary(completions[b], config.VocabSize, $"The completion of row {b}");
            int eos = Array.FindIndex(completions[b], config.EosTokenIds.Contains);
            lengths[b] = eos >= 0 ? eos + 1 : completions[b].Length;
            rows[b] = [.. prompts[b], .. completions[b].AsSpan(0, lengths[b])];
            var grids = images[b] is { } image ? new[] { image.Grid } : [];
            rowPositions[b] = QwenRopeIndex.Compute(config, rows[b], grids).Positions;
            maxCompletion = Math.Max(maxCompletion, lengths[b]);
            maxText = Math.Max(maxText, rows[b].Length);
        }

        var tokens = new long[batch * maxText];
        var positions = new long[3 * batch * maxText];
        Array.Fill(positions, 1L); // right padding: nothing real attends to it
        var targets = new long[batch * maxCompletion];
        var gather = new long[batch * maxCompletion];
        var mask = new float[batch * maxCompletion];
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < rows[b].Length; j++)
            {
                tokens[(b * maxText) + j] = rows[b][j];
                for (int axis = 0; axis < 3; axis++)
                {
                    positions[(((axis * batch) + b) * maxText) + j] = rowPositions[b][axis][j];
                }
            }

            for (int j = 0; j < maxCompletion; j++)
            {
                int at = (b * maxCompletion) + j;
                bool real = j < lengths[b];
                targets[at] = real ? completions[b][j] : 0;
                gather[at] = real ? prompts[b].Length - 1 + j : 0;
                mask[at] = real ? 1f : 0f;
            }
        }

        using var scope = NewDisposeScope();
        var device = model.Device;
        Tensor? imageEmbeds = null;
        var withImages = images.Where(i => i is not null).Select(i => i!).ToList();
        if (withImages.Count > 0)
        {
            var pixels = cat(withImages.Select(i => i.PixelValues.to(device)).ToList(), dim: 0);
            imageEmbeds = model.EncodeImages(pixels, withImages.Select(i => i.Grid).ToList());
        }

        var maskTensor = tensor(mask, [batch, maxCompletion], device: device);
        var hidden = model.HiddenStates(
            tensor(tokens, [batch, maxText], device: device), tensor(positions, [3, batch, maxText], device: device),
            keyIsReal: null, imageEmbeds);
        var index = tensor(gather, [batch, maxCompletion, 1], device: device).expand(batch, maxCompletion, hidden.shape[2]);
        var logits = model.Logits(hidden.gather(1, index));
        if (temperature != 1.0)
        {
            logits = logits / temperature;
        }

        var logSoftmax = logits.log_softmax(-1);
        var targetIndex = tensor(targets, [batch, maxCompletion, 1], device: device);
        var logProbs = logSoftmax.gather(-1, targetIndex).squeeze(-1) * maskTensor;
        Tensor entropy;
        using (no_grad())
        {
            entropy = -(logSoftmax.exp() * logSoftmax).sum(-1) * maskTensor;
        }

        return new CompletionLogProbs(
            logProbs.MoveToOuterDisposeScope(), maskTensor.MoveToOuterDisposeScope(), entropy.MoveToOuterDisposeScope(), lengths);
    }

    private static void EnsureInVocabulary(int[] ids, int vocabSize, string what)
    {
        foreach (int id in ids)
        {
            if (id < 0 || id >= vocabSize)
            {
                throw new ArgumentException($"{what} holds token id {id}, outside the vocabulary [0, {vocabSize}).");
            }
        }
    }
}
