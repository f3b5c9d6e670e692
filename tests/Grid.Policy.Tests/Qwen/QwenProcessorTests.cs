using Grid.Policy.Qwen;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenProcessorTests
{
    public static TheoryData<string> Checkpoints => new(QwenTextReference.Checkpoints);

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Prompt_ids_with_the_image_tokens_expanded_equal_the_reference(string checkpoint)
    {
        using var processor = QwenProcessor.FromCheckpoint(QwenTestData.PathOf(checkpoint));

        Assert.All(QwenTextReference.CasesOf(checkpoint), c =>
        {
            var prompt = processor.EncodePrompt(c.Image is null ? null : QwenTextReference.LoadImage(c.Image), c.Question);

            Assert.Equal(c.PromptText, prompt.Text);
            Assert.Equal(c.InputIds[..c.CompletionStart], prompt.InputIds);
            Assert.Equal(c.ImageGridThw, prompt.Image is { } image ? [image.GridT, image.GridH, image.GridW] : null);
        });
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Completion_ids_are_the_completion_tokenized_on_its_own_and_appended(string checkpoint)
    {
        using var processor = QwenProcessor.FromCheckpoint(QwenTestData.PathOf(checkpoint));

        Assert.All(QwenTextReference.CasesOf(checkpoint), c =>
        {
            int[] completion = processor.EncodeCompletion(c.Completion);

            Assert.Equal(c.CompletionIds, completion);
            Assert.Equal(c.CompletionIds, c.InputIds[c.CompletionStart..]);
        });
    }

    [Fact]
    public void An_image_becomes_one_image_token_per_merged_patch_between_the_vision_markers()
    {
        using var processor = QwenProcessor.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));
        var tokenizer = processor.Tokenizer;

        var prompt = processor.EncodePrompt(QwenTextReference.LoadImage("images/square_48.png"), "How many?");

        int start = Array.IndexOf(prompt.InputIds, tokenizer.VisionStartId);
        int end = Array.IndexOf(prompt.InputIds, tokenizer.VisionEndId);
        Assert.Equal(56 / 28 * (56 / 28), end - start - 1);
        Assert.All(prompt.InputIds[(start + 1)..end], id => Assert.Equal(tokenizer.ImagePadId, id));
        Assert.Equal(16, prompt.Image!.Patches);
    }

    [Fact]
    public void A_text_only_prompt_has_no_vision_tokens_and_no_pixels()
    {
        using var processor = QwenProcessor.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));

        var prompt = processor.EncodePrompt(null, "What is 2 + 2?");

        Assert.Null(prompt.Image);
        Assert.DoesNotContain(processor.Tokenizer.VisionStartId, prompt.InputIds);
        Assert.DoesNotContain(processor.Tokenizer.ImagePadId, prompt.InputIds);
        Assert.Equal("What is 2 + 2?", processor.Tokenizer.Decode(prompt.InputIds, skipSpecialTokens: true)
            .Split('\n')[3]);
    }

    [Fact]
    public void A_question_that_writes_an_image_token_itself_is_refused()
    {
        using var processor = QwenProcessor.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));

        var error = Assert.Throws<ArgumentException>(() => processor.EncodePrompt(null, "Look: <|image_pad|>"));

        Assert.Contains("must not write <|image_pad|>", error.Message);
    }
}
