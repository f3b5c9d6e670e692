using Grid.Policy.Checkpoints;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;

namespace Grid.Policy.Tests;

/// <summary>The byte-fallback tokenizer represents any UTF-8 text and leaves the built-in tasks' ids as they were.</summary>
public sealed class ByteFallbackTokenizerTests
{
    private static readonly Tokenizer Bytes = Tokenizer.ByteFallback;

    [Theory]
    [InlineData("é7\n")]
    [InlineData("Combien de cubes rouges ? — 三角形の角度は？ 🙂 👩‍👩‍👧")]
    [InlineData("<think>∠ABC = 40°</think><answer>140°</answer>")]
    [InlineData("\t\r\n\0\u007f\u00a0\u200b\ufeff")]
    [InlineData("e\u0301 vs \u00e9")] // combining accent vs precomposed: kept as written, not normalised
    public void Any_utf8_text_round_trips_exactly(string text)
    {
        int[] ids = Bytes.Encode(text);

        Assert.DoesNotContain(Tokenizer.UnkId, ids);
        Assert.All(ids, id => Assert.InRange(id, 0, Bytes.VocabSize - 1));
        Assert.Equal(text, Bytes.Decode(ids));
    }

    [Fact]
    public void Random_unicode_text_round_trips()
    {
        var random = new Random(15);
        for (int trial = 0; trial < 500; trial++)
        {
            var text = new System.Text.StringBuilder();
            for (int i = 0; i < 20; i++)
            {
                int codePoint;
                do
                {
                    codePoint = random.Next(4) == 0 ? random.Next(32, 127) : random.Next(0, 0x110000);
                }
                while (codePoint is >= 0xD800 and <= 0xDFFF);

                text.Append(char.ConvertFromUtf32(codePoint));
            }

            Assert.Equal(text.ToString(), Bytes.Decode(Bytes.Encode(text.ToString())));
        }
    }

    [Fact]
    public void A_character_becomes_its_utf8_bytes_after_the_char_vocabulary()
    {
        Assert.Equal([Tokenizer.FirstByteId + 0xC3, Tokenizer.FirstByteId + 0xA9], Bytes.Encode("é"));
        Assert.Equal(Tokenizer.Size + 256, Bytes.VocabSize);
        Assert.Equal("<0xC3>", Bytes.TokenName(Tokenizer.FirstByteId + 0xC3));
    }

    [Fact]
    public void Invalid_byte_runs_a_policy_samples_decode_to_replacement_characters_not_exceptions()
    {
        Assert.Equal("a\uFFFDb", Bytes.Decode([Bytes.Encode("a")[0], Tokenizer.FirstByteId + 0xC3, Bytes.Encode("b")[0]]));
        Assert.Equal("\uFFFD", Bytes.Encode("\uD800") is var lone ? Bytes.Decode(lone) : "");
    }

    [Fact]
    public void The_default_tokenizer_is_unchanged_and_never_emits_byte_ids()
    {
        Assert.Equal(103, Tokenizer.Default.VocabSize);
        Assert.Equal([Tokenizer.UnkId], Tokenizer.Default.Encode("é"));
        Assert.Equal("", Tokenizer.Default.Decode([Tokenizer.FirstByteId + 0x41]));
        Assert.NotEqual(Tokenizer.Default.VocabularySha256, Bytes.VocabularySha256);
        Assert.Equal("grid-char-v1", Tokenizer.Default.Name);
    }

    [Fact]
    public void The_built_in_tasks_tokenize_to_the_same_ids_under_both_tokenizers_without_unk()
    {
        foreach (var task in TaskCatalog.All)
        {
            for (int index = 0; index < 300; index++)
            {
                var example = task.Generate(seed: 11, index);
                int[] prompt = PromptFormat.EncodePrompt(example.Question);
                int[] completion = PromptFormat.EncodeCompletion(example.ReferenceCompletion);

                Assert.Equal(prompt, PromptFormat.EncodePrompt(example.Question, Bytes));
                Assert.Equal(completion, PromptFormat.EncodeCompletion(example.ReferenceCompletion, Bytes));
                Assert.DoesNotContain(Tokenizer.UnkId, prompt);
                Assert.DoesNotContain(Tokenizer.UnkId, completion);
                Assert.All(prompt, id => Assert.InRange(id, 0, Tokenizer.Size - 1));
            }
        }
    }

    [Fact]
    public void Every_id_below_the_char_vocabulary_names_the_same_token_in_both()
    {
        for (int id = 0; id < Tokenizer.Size; id++)
        {
            Assert.Equal(Tokenizer.Default.TokenName(id), Bytes.TokenName(id));
        }
    }

    [Fact]
    public void Both_are_found_by_name_and_recorded_with_their_vocabulary_hash()
    {
        Assert.Same(Bytes, Tokenizer.Find(Tokenizer.ByteFallbackName));
        Assert.Null(Tokenizer.Find("gpt2"));
        var record = TokenizerRecord.Of(Bytes);
        Assert.True(record.Matches(Bytes));
        Assert.False(record.Matches(Tokenizer.Default));
        Assert.Equal(64, record.VocabularySha256.Length);
    }
}
