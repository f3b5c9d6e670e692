using Grid.Policy.Model;
using Grid.Policy.Tokenization;
using Grid.Tasks.Images;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Policy.Scoring;

/// <summary>
/// Log-probabilities of GIVEN completions under a policy, for the learner (with gradient) and the frozen
/// reference policy (call it under no_grad or inference_mode). One right-padded forward over
/// [what the policy puts in front of the text][prompt][completion]; the hidden state before completion token j (at text index prompt + j - 1) is
/// gathered before the LM head, so only completion positions pay for the vocabulary projection.
/// </summary>
public static class SequenceLogProbs
{
    /// <param name="images">Per row its image; null for a text-only prompt, where the policy reads such (Qwen2-VL).</param>
    /// <param name="temperature">
    /// Divides the logits first. Use the sampling temperature to reproduce the generator's LogProbs; 1 scores the
    /// policy itself.
    /// </param>
    /// <param name="stopAtEndOfCompletion">
    /// True (training) scores a completion up to and including its first end token; false scores every token given.
    /// </param>
    public static CompletionLogProbs Compute(
        PolicyModel policy,
        IReadOnlyList<RgbImage?> images,
        IReadOnlyList<int[]> prompts,
        IReadOnlyList<int[]> completions,
        double temperature = 1.0,
        bool stopAtEndOfCompletion = true)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(completions);
        int batch = images.Count;
        if (prompts.Count != batch || completions.Count != batch || batch == 0)
        {
            throw new ArgumentException(
                $"Need one image, prompt and completion per row and at least one row; got {images.Count} images, " +
                $"{prompts.Count} prompts and {completions.Count} completions.");
        }

        if (!(temperature > 0) || !double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Temperature must be finite and above 0.");
        }

        var lengths = new int[batch];
        int maxCompletion = 1, maxText = 1;
        for (int b = 0; b < batch; b++)
        {
            if (prompts[b] is not { Length: > 0 } || completions[b] is null)
            {
                throw new ArgumentException($"Row {b}: the prompt must hold at least BOS and the completion must not be null.");
            }

            Tokenizer.EnsureInVocabulary(prompts[b], policy.VocabSize, $"The prompt of row {b}");
            Tokenizer.EnsureInVocabulary(completions[b], policy.VocabSize, $"The completion of row {b}");
            int eos = stopAtEndOfCompletion ? Array.FindIndex(completions[b], policy.IsEndOfCompletion) : -1;
            lengths[b] = eos >= 0 ? eos + 1 : completions[b].Length;
            maxCompletion = Math.Max(maxCompletion, lengths[b]);
            maxText = Math.Max(maxText, prompts[b].Length + lengths[b]);
        }

        if (maxText > policy.MaxTextLength)
        {
            throw new ArgumentException(
                $"A prompt + completion of {maxText} tokens exceeds the policy's room for text ({policy.MaxTextLength}).");
        }

        var tokens = new long[batch * maxText];
        Array.Fill(tokens, policy.PadId);
        var textLengths = new int[batch];
        var targets = new long[batch * maxCompletion];
        var gather = new long[batch * maxCompletion];
        var mask = new float[batch * maxCompletion];
        for (int b = 0; b < batch; b++)
        {
            int[] prompt = prompts[b], completion = completions[b];
            textLengths[b] = prompt.Length + lengths[b];
            for (int j = 0; j < prompt.Length; j++)
            {
                tokens[(b * maxText) + j] = prompt[j];
            }

            for (int j = 0; j < lengths[b]; j++)
            {
                tokens[(b * maxText) + prompt.Length + j] = completion[j];
            }

            for (int j = 0; j < maxCompletion; j++)
            {
                int at = (b * maxCompletion) + j;
                bool real = j < lengths[b];
                targets[at] = real ? completion[j] : policy.PadId;
                gather[at] = real ? prompt.Length - 1 + j : 0;
                mask[at] = real ? 1f : 0f;
            }
        }

        using var scope = NewDisposeScope();
        var device = policy.Device;
        var maskTensor = tensor(mask, [batch, maxCompletion], device: device);
        var hidden = policy.TextHiddenStates(images, tensor(tokens, [batch, maxText], device: device), textLengths);
        var index = tensor(gather, [batch, maxCompletion, 1], device: device).expand(batch, maxCompletion, hidden.shape[2]);
        var logits = policy.Logits(hidden.gather(1, index));
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
}
