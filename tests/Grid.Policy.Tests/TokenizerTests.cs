using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;

namespace Grid.Policy.Tests;

public sealed class TokenizerTests
{
    private static readonly Tokenizer Tokenizer = Tokenizer.Default;

    [Theory]
    [InlineData("How many red objects?")]
    [InlineData("Angles 40 and 30. Find x.")]
    [InlineData("<think>180-40-30=110</think><answer>110</answer>")]
    [InlineData(" !~{}<>/ <thin <answer")]
    public void Decoding_an_encoded_ascii_text_gives_it_back(string text)
    {
        Assert.Equal(text, Tokenizer.Decode(Tokenizer.Encode(text)));
    }

    [Fact]
    public void Each_tag_is_one_token()
    {
        Assert.Equal([Tokenizer.ThinkOpen], Tokenizer.Encode("<think>"));
        Assert.Equal([Tokenizer.ThinkClose], Tokenizer.Encode("</think>"));
        Assert.Equal([Tokenizer.AnswerOpen], Tokenizer.Encode("<answer>"));
        Assert.Equal([Tokenizer.AnswerClose], Tokenizer.Encode("</answer>"));
        Assert.Equal(4 + 3 + 1, Tokenizer.Encode("<think>1+1</think><answer>2</answer>").Length);
    }

    [Fact]
    public void Non_ascii_characters_become_unk_and_specials_are_dropped_when_decoding()
    {
        int[] ids = Tokenizer.Encode("é7\n");

        Assert.Equal([Tokenizer.Unk, Tokenizer.Encode("7")[0], Tokenizer.Unk], ids);
        Assert.Equal("7", Tokenizer.Decode([Tokenizer.Bos, .. ids, Tokenizer.Eos, Tokenizer.Pad]));
    }

    [Fact]
    public void Every_id_is_inside_the_vocabulary()
    {
        var ids = Tokenizer.Encode(new string(Enumerable.Range(0, 200).Select(c => (char)c).ToArray()));

        Assert.All(ids, id => Assert.InRange(id, 0, Tokenizer.VocabSize - 1));
        Assert.Equal(103, Tokenizer.VocabSize);
    }

    [Fact]
    public void A_prompt_is_bos_then_the_question_and_a_completion_ends_with_eos()
    {
        Assert.Equal([Tokenizer.Bos, .. Tokenizer.Encode("Find x.")], PromptFormat.EncodePrompt("Find x."));
        int[] completion = PromptFormat.EncodeCompletion("<answer>3</answer>");
        Assert.Equal(Tokenizer.Eos, completion[^1]);
        Assert.Equal("<answer>3</answer>", PromptFormat.DecodeCompletion([.. completion, 20, 21]));
    }
}
