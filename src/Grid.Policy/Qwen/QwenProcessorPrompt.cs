namespace Grid.Policy.Qwen;

/// <summary>
/// One rendered and tokenized prompt: <see cref="Text"/> is the chat template's output (with one
/// &lt;|image_pad|&gt;), <see cref="InputIds"/> its ids with that token expanded to the image's token count, and
/// <see cref="Image"/> the vision tower's input (null for a text-only prompt).
/// </summary>
public sealed record QwenProcessorPrompt(string Text, int[] InputIds, QwenImageProcessorOutput? Image);
