using System.Text;
using Grid.Tasks.Datasets;
using Grid.Tasks.Images;
using Grid.Tasks.Rewards;
using Grid.Tasks.Verification;
using SkiaSharp;

namespace Grid.Tasks.Tests.OwnData;

/// <summary>An R1-V layout dataset written by the tests' own renderer reads as examples, in every PNG mode and JPEG.</summary>
public sealed class OwnDataReaderTests
{
    [Fact]
    public void R1v_records_become_examples_with_the_answer_from_the_solution()
    {
        using var data = new OwnDataset(count: 6);

        var examples = DatasetReader.Read(data.Jsonl, new DatasetReadOptions(ImageSize: 48)).ToList();

        Assert.Equal(6, examples.Count);
        Assert.Equal(["0", "1", "2", "3", "4", "5"], examples.Select(e => e.Answer));
        Assert.Equal("train-0000001", examples[0].Id);
        Assert.Equal("custom", examples[0].Task);
        Assert.Equal("I see 0 dots.", examples[0].Reasoning);
        Assert.All(examples, e => Assert.Equal((48, 48), (e.Image.Width, e.Image.Height)));
        Assert.Equal(2, new TaskVerifier().Score(examples[3], "<think>x</think><answer>3</answer>").Total);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    public void Every_png_mode_decodes_to_the_same_rgb_pixels(int colorType)
    {
        using var rgb = new OwnDataset(count: 3, colorTypeOf: _ => 2);
        using var other = new OwnDataset(count: 3, colorTypeOf: _ => colorType);

        var expected = DatasetReader.Read(rgb.Jsonl).ToList();
        var actual = DatasetReader.Read(other.Jsonl).ToList();

        // Grey modes keep the green channel only, so compare grey images by that channel.
        for (int i = 0; i < expected.Count; i++)
        {
            var a = expected[i].Image.Pixels;
            var b = actual[i].Image.Pixels;
            for (int p = 0; p < a.Length; p += 3)
            {
                if (colorType is 0 or 4)
                {
                    Assert.Equal((a[p + 1], a[p + 1], a[p + 1]), (b[p], b[p + 1], b[p + 2]));
                }
                else
                {
                    Assert.Equal((a[p], a[p + 1], a[p + 2]), (b[p], b[p + 1], b[p + 2]));
                }
            }
        }
    }

    [Fact]
    public void Alpha_is_composited_on_white()
    {
        // 2x1 RGBA: a transparent red pixel and a half-transparent black one.
        byte[] png = TinyPng.Encode(2, 1, 6, [255, 0, 0, 0, 0, 0, 0, 128]);

        var image = PolicyImage.Decode(png);

        Assert.Equal([255, 255, 255, 127, 127, 127], image.Pixels);
    }

    [Fact]
    public void A_policy_sized_image_passes_through_untouched_and_others_are_letterboxed_on_white()
    {
        var square = OwnDataset.Render(48, 3, 2);
        Assert.Equal(PolicyImage.Decode(square), PolicyImage.Decode(square, size: 48));

        // 96x48 solid blue: scaled to 48x24, centred, white bands of 12 rows above and below.
        var wide = TinyPng.Encode(96, 48, 2, Enumerable.Repeat(new byte[] { 0, 0, 255 }, 96 * 48).SelectMany(b => b).ToArray());
        var boxed = PolicyImage.Decode(wide, size: 48);
        Assert.Equal(new Rgb(255, 255, 255), boxed[0, 11]);
        Assert.Equal(new Rgb(0, 0, 255), boxed[0, 12]);
        Assert.Equal(new Rgb(0, 0, 255), boxed[47, 35]);
        Assert.Equal(new Rgb(255, 255, 255), boxed[47, 36]);

        // Area average: a 2x2 checkerboard of black and white becomes one mid-grey pixel (127.5 rounds up).
        var checker = TinyPng.Encode(2, 2, 0, [0, 255, 255, 0]);
        Assert.Equal(new Rgb(128, 128, 128), PolicyImage.Decode(checker, size: 1)[0, 0]);
    }

    [Fact]
    public void A_jpeg_image_is_read()
    {
        using var data = new OwnDataset(count: 1);
        using (var bitmap = new SKBitmap(64, 32))
        {
            bitmap.Erase(new SKColor(200, 10, 10));
            using var encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
            File.WriteAllBytes(data.PathOf("img/photo.jpg"), encoded.ToArray());
        }

        File.WriteAllLines(data.Jsonl, [OwnDataset.Record("img/photo.jpg", "What colour?", "<answer>red</answer>", new { answer_kind = "text" })]);

        var example = Assert.Single(DatasetReader.Read(data.Jsonl, new DatasetReadOptions(ImageSize: 48)));

        Assert.Equal((48, 48), (example.Image.Width, example.Image.Height));
        var centre = example.Image[24, 24];
        Assert.InRange(centre.R, 190, 210);
        Assert.InRange(centre.G, 0, 25);
        Assert.Equal(new Rgb(255, 255, 255), example.Image[24, 0]);
        Assert.Equal(AnswerKind.Text, example.AnswerRule.Kind);
    }

    [Fact]
    public void A_byte_order_mark_is_skipped_and_crlf_line_ends_are_accepted()
    {
        using var data = new OwnDataset(count: 3);
        string text = File.ReadAllText(data.Jsonl).Replace("\n", "\r\n");
        File.WriteAllBytes(data.Jsonl, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)]);

        Assert.Equal(3, DatasetReader.Read(data.Jsonl).Count());
    }

    [Fact]
    public void Answer_kinds_come_from_the_record_or_the_dataset()
    {
        using var data = new OwnDataset(count: 1);
        File.WriteAllLines(data.Jsonl,
        [
            OwnDataset.Record("img/000.png", "Which?", "<answer>(b)</answer>", new { id = "q1", answer_kind = "choice" }),
            OwnDataset.Record("img/000.png", "Length?", "<answer>2.5</answer>", new { id = "q2", answer_kind = "numeric", tolerance = 0.1 }),
            OwnDataset.Record("img/000.png", "Name?", "<answer>Red Cube</answer>", new { id = "q3" }),
        ]);

        var examples = DatasetReader.Read(data.Jsonl, new DatasetReadOptions(AnswerRule.Text)).ToList();
        var verifier = new TaskVerifier();

        Assert.Equal(AnswerRule.Choice, examples[0].AnswerRule);
        Assert.Equal(AnswerRule.Numeric(0.1m), examples[1].AnswerRule);
        Assert.Equal(AnswerRule.Text, examples[2].AnswerRule);
        Assert.Equal(1, verifier.Score(examples[0], "<think></think><answer> B. </answer>").Accuracy);
        Assert.Equal(1, verifier.Score(examples[1], "<think></think><answer>2.58</answer>").Accuracy);
        Assert.Equal(0, verifier.Score(examples[1], "<think></think><answer>2.61</answer>").Accuracy);
        Assert.Equal(1, verifier.Score(examples[2], "<think></think><answer>  red   CUBE </answer>").Accuracy);
    }

    [Fact]
    public void Grid_records_of_own_tasks_state_their_answer_kind()
    {
        using var data = new OwnDataset(count: 1);
        File.WriteAllLines(data.Jsonl,
            ["""{"id":"a","task":"shapes","question":"Which?","answer":"C","image":"img/000.png","answer_kind":"choice"}"""]);

        var example = Assert.Single(DatasetReader.Read(data.Jsonl));

        Assert.Equal("shapes", example.Task);
        Assert.Equal(AnswerRule.Choice, example.AnswerRule);
    }
}
