using System.Text.Json.Serialization;

namespace Grid.Training.Scoring;

/// <summary>
/// What <c>grid score</c> reports: the per-token log-probabilities of a given completion after a prompt (and image)
/// under a checkpoint, with everything needed to compare them against another implementation token by token.
/// </summary>
/// <param name="Checkpoint">The folder that was scored.</param>
/// <param name="ModelType">"grid" for Grid's own policy, else config.json's model_type (qwen2_vl, qwen2_5_vl).</param>
/// <param name="PromptText">The prompt as the model reads it: the chat template's output (one image placeholder), or
/// Grid's own question text.</param>
/// <param name="InputIds">The prompt's ids (image tokens expanded) followed by the completion's.</param>
/// <param name="CompletionStart">Index in <see cref="InputIds"/> of the first completion token.</param>
/// <param name="CompletionTokens">Each completion token's text, for reading.</param>
/// <param name="CompletionLogProbs">log p(completion token j | everything before it).</param>
/// <param name="ImageGridThw">The image's patch grid (t, h, w); null without an image or for Grid's own policy.</param>
/// <param name="ImageResizedHw">The size the image was resized to before patching; null likewise.</param>
/// <param name="PositionIds">Positions of <see cref="InputIds"/>: 3 x L (temporal, height, width) for M-RoPE; one row of
/// text positions (0 at BOS, after the image patches) for Grid's own policy.</param>
/// <param name="RopeDelta">M-RoPE's delta (max position + 1 - L): where decoding continues; null for Grid's own policy.</param>
public sealed record CompletionScore(
    [property: JsonPropertyName("checkpoint")] string Checkpoint,
    [property: JsonPropertyName("model_type")] string ModelType,
    [property: JsonPropertyName("prompt_text")] string PromptText,
    [property: JsonPropertyName("input_ids")] int[] InputIds,
    [property: JsonPropertyName("completion_start")] int CompletionStart,
    [property: JsonPropertyName("completion_tokens")] string[] CompletionTokens,
    [property: JsonPropertyName("completion_logprobs")] double[] CompletionLogProbs,
    [property: JsonPropertyName("image_grid_thw")] int[]? ImageGridThw,
    [property: JsonPropertyName("image_resized_hw")] int[]? ImageResizedHw,
    [property: JsonPropertyName("position_ids")] long[][] PositionIds,
    [property: JsonPropertyName("rope_delta")] long? RopeDelta)
{
    /// <summary>log p(completion | prompt): the sum of the per-token log-probabilities.</summary>
    [JsonPropertyName("completion_logprob_sum")]
    public double CompletionLogProbSum => CompletionLogProbs.Sum();
}
