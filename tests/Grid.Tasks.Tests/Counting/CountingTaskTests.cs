using Grid.Tasks.Counting;

namespace Grid.Tasks.Tests.Counting;

public sealed class CountingTaskTests
{
    private const int Samples = 600;
    private readonly CountingTask _task = new();

    [Fact]
    public void Objects_never_overlap_and_keep_a_margin_of_two_pixels()
    {
        for (int index = 0; index < Samples; index++)
        {
            var objects = _task.GenerateScene(seed: 1, index).Objects;
            for (int i = 0; i < objects.Count; i++)
            {
                for (int j = i + 1; j < objects.Count; j++)
                {
                    Assert.True(objects[i].GapTo(objects[j]) >= 2, $"example {index}: {objects[i]} and {objects[j]}");
                }
            }
        }
    }

    [Fact]
    public void Objects_lie_inside_the_image()
    {
        for (int index = 0; index < Samples; index++)
        {
            Assert.All(_task.GenerateScene(seed: 1, index).Objects, o =>
            {
                Assert.InRange(o.Left, 0, CountingTask.DefaultImageSize);
                Assert.InRange(o.Right, 0, CountingTask.DefaultImageSize);
                Assert.InRange(o.Top, 0, CountingTask.DefaultImageSize);
                Assert.InRange(o.Bottom, 0, CountingTask.DefaultImageSize);
            });
        }
    }

    [Fact]
    public void Answer_is_the_count_recomputed_from_the_scene()
    {
        for (int index = 0; index < Samples; index++)
        {
            var scene = _task.GenerateScene(seed: 2, index);
            var example = _task.Generate(seed: 2, index);
            int recounted = scene.Objects.Count(o =>
                (scene.Question.Color is null || o.Color == scene.Question.Color)
                && (scene.Question.Shape is null || o.Shape == scene.Question.Shape)
                && (scene.Question.Size is null || o.Size == scene.Question.Size));
            Assert.Equal(recounted.ToString(), example.Answer);
            Assert.Equal(scene.Question.Text, example.Question);
        }
    }

    [Fact]
    public void Answers_cover_zero_to_nine_without_piling_up_on_one_value()
    {
        var counts = Enumerable.Range(0, Samples).Select(i => int.Parse(_task.Generate(seed: 3, i).Answer))
            .GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enumerable.Range(0, 10), counts.Keys.Order());
        Assert.All(counts.Values, n => Assert.InRange(n, Samples / 10 / 2, Samples / 10 * 2));
    }

    [Fact]
    public void Scenes_hold_zero_to_nine_objects()
    {
        var sizes = Enumerable.Range(0, Samples).Select(i => _task.GenerateScene(seed: 4, i).Objects.Count).ToHashSet();
        Assert.Equal(Enumerable.Range(0, 10), sizes.Order());
    }

    [Fact]
    public void Every_question_form_is_asked()
    {
        var questions = Enumerable.Range(0, Samples).Select(i => _task.GenerateScene(seed: 5, i).Question).ToList();
        Assert.Contains(questions, q => q.Text == "How many objects?");
        Assert.Contains(questions, q => q is { Color: not null, Shape: null, Size: null });
        Assert.Contains(questions, q => q is { Color: null, Shape: not null, Size: null });
        Assert.Contains(questions, q => q is { Color: not null, Shape: not null });
        Assert.Contains(questions, q => q is { Size: not null, Shape: not null });
    }

    [Fact]
    public void Pixels_of_the_asked_colour_appear_exactly_when_the_answer_is_positive()
    {
        int checkedQuestions = 0;
        for (int index = 0; index < Samples; index++)
        {
            var scene = _task.GenerateScene(seed: 6, index);
            if (scene.Question is not { Color: { } color, Shape: null, Size: null })
            {
                continue;
            }

            var image = _task.Generate(seed: 6, index).Image;
            int pixels = CountPixels(image, color.ToRgb());
            Assert.Equal(scene.Answer > 0, pixels > 0);
            checkedQuestions++;
        }

        Assert.True(checkedQuestions > 50);
    }

    [Fact]
    public void Each_object_paints_its_own_colour_inside_its_box()
    {
        for (int index = 0; index < 100; index++)
        {
            var scene = _task.GenerateScene(seed: 7, index);
            var image = CountingTask.Render(scene);
            foreach (var o in scene.Objects)
            {
                int inside = 0;
                for (int y = (int)o.Top; y < (int)Math.Ceiling(o.Bottom); y++)
                {
                    for (int x = (int)o.Left; x < (int)Math.Ceiling(o.Right); x++)
                    {
                        inside += image[x, y] == o.Color.ToRgb() ? 1 : 0;
                    }
                }

                Assert.True(inside >= 15, $"{o} shows only {inside} pixels");
            }

            int painted = CountPixels(image, ObjectPalette.Background, invert: true);
            Assert.Equal(scene.Objects.Count == 0, painted == 0);
        }
    }

    [Fact]
    public void Reasoning_lists_the_matching_cells_in_reading_order_then_the_count()
    {
        for (int index = 0; index < 100; index++)
        {
            var scene = _task.GenerateScene(seed: 8, index);
            var cells = scene.Objects.Where(scene.Question.Matches).Select(o => o.Cell).ToList();
            Assert.Equal(cells.Order(StringComparer.Ordinal), cells);
            string expected = cells.Count == 0 ? "none = 0" : $"{string.Join(' ', cells)} = {cells.Count}";
            Assert.Equal(expected, _task.Generate(seed: 8, index).Reasoning);
        }
    }

    [Fact]
    public void Questions_read_as_plain_english()
    {
        Assert.Equal("How many objects?", new CountingQuestion(null, null, null).Text);
        Assert.Equal("How many red objects?", new CountingQuestion(ObjectColor.Red, null, null).Text);
        Assert.Equal("How many circles?", new CountingQuestion(null, ObjectShape.Circle, null).Text);
        Assert.Equal("How many small yellow triangles?",
            new CountingQuestion(ObjectColor.Yellow, ObjectShape.Triangle, ObjectSize.Small).Text);
    }

    private static int CountPixels(Grid.Tasks.Images.RgbImage image, Grid.Tasks.Images.Rgb color, bool invert = false)
    {
        int count = 0;
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                count += (image[x, y] == color) != invert ? 1 : 0;
            }
        }

        return count;
    }
}
