using Grid.Tasks.Images;
using Grid.Tasks.Rewards;

namespace Grid.Tasks;

/// <summary>
/// One prompt of a multimodal task: an image, a question about it, the verifiable answer, and a short reference
/// reasoning trace (the text that goes inside &lt;think&gt; for supervised warm-up).
/// </summary>
/// <param name="Id">Stable identifier, unique within a dataset (e.g. "counting-000042").</param>
/// <param name="Task">The task's name, as in <see cref="IVisualTask.Name"/>.</param>
/// <param name="Question">The question the policy sees after the image.</param>
/// <param name="Answer">Ground truth, e.g. "7".</param>
/// <param name="Image">The rendered image.</param>
/// <param name="Reasoning">Reference reasoning for SFT; empty when a dataset does not provide one.</param>
public sealed record TaskExample(string Id, string Task, string Question, string Answer, RgbImage Image, string Reasoning)
{
    /// <summary>How the verifier compares answers with <see cref="Answer"/>; the built-in tasks use
    /// <see cref="AnswerRule.Auto"/>, a dataset may state another per dataset or per record.</summary>
    public AnswerRule AnswerRule { get; init; } = AnswerRule.Auto;

    /// <summary>The completion SFT teaches: &lt;think&gt;reasoning&lt;/think&gt;&lt;answer&gt;answer&lt;/answer&gt;.</summary>
    public string ReferenceCompletion => $"<think>{Reasoning}</think><answer>{Answer}</answer>";
}
