using System.Globalization;
using Grid.Policy.Qwen;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenTokenizerTests
{
    public static TheoryData<string> Checkpoints => new(QwenTextReference.Checkpoints);

    [Fact]
    public void Every_reference_text_encodes_to_the_hugging_face_ids()
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));
        var cases = QwenTextReference.TokenizerCases();

        Assert.NotEmpty(cases);
        Assert.All(cases, c => Assert.Equal(c.Ids, tokenizer.Encode(c.Text)));
    }

    [Fact]
    public void Decoding_the_ids_of_a_reference_text_gives_the_text_back()
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));

        Assert.All(QwenTextReference.TokenizerCases(), c =>
        {
            string decoded = tokenizer.Decode(c.Ids, skipSpecialTokens: false);
            // The NFC normalizer composes combining marks, so such a text comes back composed: it must then
            // encode to the same ids.
            if (c.Text.Any(ch => CharUnicodeInfo.GetUnicodeCategory(ch) == UnicodeCategory.NonSpacingMark))
            {
                Assert.Equal(c.Ids, tokenizer.Encode(decoded));
            }
            else
            {
                Assert.Equal(c.Text, decoded);
            }
        });
    }

    [Fact]
    public void Special_tokens_written_in_the_text_are_single_tokens_with_qwens_ids()
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));

        Assert.Equal([151644], tokenizer.Encode("<|im_start|>"));
        Assert.Equal([151645, 151643], tokenizer.Encode("<|im_end|><|endoftext|>"));
        Assert.Equal([151652, 151655, 151653], tokenizer.Encode("<|vision_start|><|image_pad|><|vision_end|>"));
        Assert.Equal(
            (151644, 151645, 151643, 151652, 151653, 151655),
            (tokenizer.ImStartId, tokenizer.ImEndId, tokenizer.EndOfTextId, tokenizer.VisionStartId,
                tokenizer.VisionEndId, tokenizer.ImagePadId));
    }

    [Fact]
    public void The_vocabulary_counts_the_bpe_entries_and_the_added_tokens()
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));

        Assert.Equal(151643 + 14, tokenizer.VocabularySize);
        Assert.Equal(151656, tokenizer.TokenToId("<|video_pad|>"));
        Assert.Null(tokenizer.TokenToId("<|no_such_token|>"));
    }

    [Fact]
    public void Encoding_adds_no_special_tokens()
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));

        Assert.Empty(tokenizer.Encode(string.Empty));
        Assert.DoesNotContain(tokenizer.Encode("Hello world"), tokenizer.IsSpecial);
    }

    [Fact]
    public void Decoding_keeps_or_skips_special_tokens_as_asked()
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));
        int[] ids = tokenizer.Encode("<|im_start|>assistant\nThe answer is 42.<|im_end|>");

        Assert.Equal("<|im_start|>assistant\nThe answer is 42.<|im_end|>", tokenizer.Decode(ids, skipSpecialTokens: false));
        Assert.Equal("assistant\nThe answer is 42.", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void A_character_split_over_ids_around_a_skipped_special_token_decodes_whole()
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf("qwen2_vl_tiny"));
        int[] ids = tokenizer.Encode("語");
        Assert.True(ids.Length > 1, "the tiny vocabulary spells 語 with byte tokens");

        string decoded = tokenizer.Decode([ids[0], tokenizer.ImEndId, .. ids[1..]], skipSpecialTokens: true);

        Assert.Equal("語", decoded);
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Both_tiny_checkpoints_load_their_tokenizer(string checkpoint)
    {
        using var tokenizer = QwenTokenizer.FromCheckpoint(QwenTestData.PathOf(checkpoint));

        Assert.Equal(new[] { tokenizer.ImEndId }, tokenizer.Encode("<|im_end|>"));
    }

    [Fact]
    public void A_missing_tokenizer_json_is_refused_with_its_path_and_the_fix()
    {
        string folder = Directory.CreateTempSubdirectory("grid-qwen-").FullName;
        try
        {
            var error = Assert.Throws<FileNotFoundException>(() => QwenTokenizer.FromCheckpoint(folder));

            Assert.Contains(Path.Combine(folder, "tokenizer.json"), error.Message);
            Assert.Contains("copy it from the model's hub repository", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"model\": {\"type\": \"BPE\"}}")]
    public void An_unreadable_tokenizer_json_is_refused_with_its_path_and_the_fix(string content)
    {
        string folder = Directory.CreateTempSubdirectory("grid-qwen-").FullName;
        try
        {
            string path = Path.Combine(folder, "tokenizer.json");
            File.WriteAllText(path, content);

            var error = Assert.Throws<InvalidDataException>(() => QwenTokenizer.FromFile(path));

            Assert.Contains(path, error.Message);
            Assert.Contains("Replace it with the tokenizer.json of the checkpoint's hub repository", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_tokenizer_json_whose_post_processor_adds_tokens_is_refused()
    {
        string folder = Directory.CreateTempSubdirectory("grid-qwen-").FullName;
        try
        {
            string json = File.ReadAllText(QwenTestData.PathOf("qwen2_vl_tiny/tokenizer.json"));
            var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
            node["post_processor"] = System.Text.Json.Nodes.JsonNode.Parse(
                "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<|endoftext|>\", \"type_id\": 0}}, " +
                "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {}}");
            string path = Path.Combine(folder, "tokenizer.json");
            File.WriteAllText(path, node.ToJsonString());

            var error = Assert.Throws<InvalidDataException>(() => QwenTokenizer.FromFile(path));

            Assert.Contains("post_processor (TemplateProcessing) adds tokens", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
