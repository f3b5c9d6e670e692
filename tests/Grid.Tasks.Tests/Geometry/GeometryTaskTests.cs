using Grid.Tasks.Geometry;
using Grid.Tasks.Images;

namespace Grid.Tasks.Tests.Geometry;

public sealed class GeometryTaskTests
{
    private const int Samples = 400;
    private static readonly GeometryKind[] s_kinds = Enum.GetValues<GeometryKind>();
    private readonly GeometryTask _task = new();

    [Fact]
    public void Answer_satisfies_the_relation_of_the_diagram_kind()
    {
        for (int index = 0; index < Samples; index++)
        {
            var problem = _task.GenerateProblem(seed: 1, index);
            int x = int.Parse(_task.Generate(seed: 1, index).Answer);
            int expected = problem.Kind switch
            {
                GeometryKind.Triangle => 180 - problem.A - problem.B,
                GeometryKind.AroundPoint => 360 - problem.A - problem.B,
                GeometryKind.RightAngleSplit => 90 - problem.A - problem.B,
                GeometryKind.ExteriorAngle => problem.A + problem.B,
                _ => throw new InvalidOperationException(),
            };
            Assert.Equal(expected, x);
        }
    }

    [Fact]
    public void Answers_are_positive_integers_and_angles_multiples_of_five()
    {
        for (int index = 0; index < Samples; index++)
        {
            var example = _task.Generate(seed: 2, index);
            var problem = _task.GenerateProblem(seed: 2, index);
            Assert.Matches("^[1-9][0-9]*$", example.Answer);
            Assert.Equal(0, problem.A % 5);
            Assert.Equal(0, problem.B % 5);
        }
    }

    [Fact]
    public void Every_kind_is_generated()
    {
        var kinds = Enumerable.Range(0, Samples).Select(i => _task.GenerateProblem(seed: 3, i).Kind).ToHashSet();
        Assert.Equal(s_kinds, kinds.Order());
    }

    [Fact]
    public void The_same_numbers_under_different_kinds_give_the_same_question_but_different_answers_and_images()
    {
        var problems = s_kinds.Select(kind => new GeometryProblem(kind, 40, 30)).ToList();
        Assert.Single(problems.Select(p => p.Question).Distinct());
        Assert.Equal("Angles 40 and 30. Find x.", problems[0].Question);
        Assert.Equal(problems.Count, problems.Select(p => p.Unknown).Distinct().Count());
        var images = problems.Select(_task.Render).ToList();
        for (int i = 0; i < images.Count; i++)
        {
            for (int j = i + 1; j < images.Count; j++)
            {
                Assert.NotEqual(images[i], images[j]);
            }
        }
    }

    [Theory]
    [InlineData(GeometryKind.Triangle, "180-40-30=110", 110)]
    [InlineData(GeometryKind.AroundPoint, "360-40-30=290", 290)]
    [InlineData(GeometryKind.RightAngleSplit, "90-40-30=20", 20)]
    [InlineData(GeometryKind.ExteriorAngle, "40+30=70", 70)]
    public void Reasoning_is_the_arithmetic_of_the_kind(GeometryKind kind, string reasoning, int unknown)
    {
        var problem = new GeometryProblem(kind, 40, 30);
        Assert.Equal(reasoning, problem.Reasoning);
        Assert.Equal(unknown, problem.Unknown);
    }

    [Fact]
    public void Every_diagram_shows_lines_a_red_mark_for_x_and_blue_marks_for_the_known_angles()
    {
        for (int index = 0; index < 100; index++)
        {
            var image = _task.Generate(seed: 4, index).Image;
            Assert.True(Count(image, GeometryDiagramColors.Ink) >= 40, $"example {index}: too few line pixels");
            Assert.True(Count(image, GeometryDiagramColors.Unknown) >= 6, $"example {index}: x is not marked");
            Assert.True(Count(image, GeometryDiagramColors.Known) >= 6, $"example {index}: a and b are not marked");
        }
    }

    [Fact]
    public void Angles_that_leave_no_drawable_x_are_refused_with_the_values()
    {
        var error = Assert.Throws<ArgumentException>(() => new GeometryProblem(GeometryKind.RightAngleSplit, 60, 30));
        Assert.Contains("60 and 30", error.Message);
        Assert.Contains("x = 0", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GeometryProblem(GeometryKind.Triangle, 5, 30));
    }

    private static int Count(RgbImage image, Rgb color)
    {
        int count = 0;
        for (int i = 0; i < image.Pixels.Length; i += 3)
        {
            count += new Rgb(image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]) == color ? 1 : 0;
        }

        return count;
    }

    private static class GeometryDiagramColors
    {
        public static Rgb Ink => Grid.Tasks.Geometry.GeometryDiagram.Ink;

        public static Rgb Unknown => Grid.Tasks.Geometry.GeometryDiagram.UnknownMark;

        public static Rgb Known => Grid.Tasks.Geometry.GeometryDiagram.KnownMark;
    }
}
