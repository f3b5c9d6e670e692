using Grid.Tasks.Images;
using Grid.Tasks.Randomness;

namespace Grid.Tasks.Counting;

/// <summary>
/// Visual counting in the spirit of CLEVR: 0 to 9 circles, squares and triangles in four colours and two sizes,
/// never overlapping, and a question that counts those with some attributes. The image is a 3x3 grid of cells
/// (16 px each at 48 px) holding at most one object each, jittered inside its cell with a margin, so objects
/// are always at least 2 px apart. The answer is drawn uniformly from 0..9 first and the scene built around it,
/// so every count is equally common.
/// </summary>
public sealed class CountingTask : IVisualTask
{
    public const int DefaultImageSize = 48;
    public const int MaxObjects = 9;
    private const int GridSide = 3;
    private const int CellSize = DefaultImageSize / GridSide;
    private const int CellMargin = 1;
    private const double SmallRadius = 3.5;
    private const double LargeRadius = 5.5;

    private static readonly ObjectColor[] s_colors = Enum.GetValues<ObjectColor>();
    private static readonly ObjectShape[] s_shapes = Enum.GetValues<ObjectShape>();
    private static readonly ObjectSize[] s_sizes = Enum.GetValues<ObjectSize>();

    public string Name => "counting";

    public int ImageSize => DefaultImageSize;

    public TaskExample Generate(long seed, long index)
    {
        var scene = GenerateScene(seed, index);
        return new TaskExample($"{Name}-{index:D6}", Name, scene.Question.Text, scene.Answer.ToString(),
            Render(scene), scene.Reasoning);
    }

    /// <summary>The scene behind <see cref="Generate"/> for the same (seed, index).</summary>
    public CountingScene GenerateScene(long seed, long index)
    {
        var random = new ExampleRandom(Name, seed, index);
        var question = PickQuestion(random);
        int answer = random.NextInclusive(0, MaxObjects);
        bool asksForEverything = question.Color is null && question.Shape is null && question.Size is null;
        int total = asksForEverything ? answer : random.NextInclusive(answer, MaxObjects);

        var attributes = new List<(ObjectShape Shape, ObjectColor Color, ObjectSize Size)>();
        while (attributes.Count < total)
        {
            var candidate = (random.Pick(s_shapes), random.Pick(s_colors), random.Pick(s_sizes));
            var probe = new SceneObject(candidate.Item1, candidate.Item2, candidate.Item3, "", 0, 0, 0);
            bool needsMatch = attributes.Count < answer;
            if (question.Matches(probe) == needsMatch)
            {
                attributes.Add(candidate);
            }
        }

        random.Shuffle(attributes);
        var cells = Enumerable.Range(0, GridSide * GridSide).ToList();
        random.Shuffle(cells);
        var objects = new List<SceneObject>();
        foreach (var (cell, (shape, color, size)) in cells.Take(total).Order().Zip(attributes))
        {
            objects.Add(Place(random, cell, shape, color, size));
        }

        return new CountingScene(ImageSize, objects, question);
    }

    public static RgbImage Render(CountingScene scene)
    {
        ArgumentNullException.ThrowIfNull(scene);
        var canvas = new ImageCanvas(scene.ImageSize, scene.ImageSize, ObjectPalette.Background);
        foreach (var item in scene.Objects)
        {
            var rgb = item.Color.ToRgb();
            switch (item.Shape)
            {
                case ObjectShape.Circle:
                    // A hair inside the box, so the disc has no one-pixel nubs at its four poles.
                    canvas.FillCircle(item.CenterX, item.CenterY, item.Radius - 0.2, rgb);
                    break;
                case ObjectShape.Square:
                    // A little smaller than the box, so a square covers about as many pixels as a circle.
                    double half = item.Radius * 0.85;
                    canvas.FillRectangle(item.CenterX - half, item.CenterY - half, item.CenterX + half,
                        item.CenterY + half, rgb);
                    break;
                case ObjectShape.Triangle:
                    canvas.FillConvexPolygon(
                        [(item.CenterX, item.Top), (item.Right, item.Bottom), (item.Left, item.Bottom)], rgb);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(scene), item.Shape, "Unknown object shape.");
            }
        }

        return canvas.Finish();
    }

    /// <summary>Five question forms, equally likely, with the attribute values drawn uniformly.</summary>
    private static CountingQuestion PickQuestion(ExampleRandom random) => random.Next(5) switch
    {
        0 => new CountingQuestion(null, null, null),
        1 => new CountingQuestion(random.Pick(s_colors), null, null),
        2 => new CountingQuestion(null, random.Pick(s_shapes), null),
        3 => new CountingQuestion(random.Pick(s_colors), random.Pick(s_shapes), null),
        _ => new CountingQuestion(null, random.Pick(s_shapes), random.Pick(s_sizes)),
    };

    private static SceneObject Place(ExampleRandom random, int cell, ObjectShape shape, ObjectColor color, ObjectSize size)
    {
        int row = cell / GridSide, column = cell % GridSide;
        double radius = size == ObjectSize.Small ? SmallRadius : LargeRadius;
        // Centres on half pixels, anywhere that keeps the box CellMargin inside the cell.
        int slack = (int)Math.Floor(2 * ((CellSize / 2.0) - CellMargin - radius));
        double offset = CellMargin + radius + (random.NextInclusive(0, slack) / 2.0);
        double offsetY = CellMargin + radius + (random.NextInclusive(0, slack) / 2.0);
        string name = $"{(char)('A' + row)}{column + 1}";
        return new SceneObject(shape, color, size, name, (column * CellSize) + offset, (row * CellSize) + offsetY, radius);
    }
}
