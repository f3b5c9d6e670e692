using System.Text.Json;

namespace Grid.Tasks.Tests.OwnData;

/// <summary>
/// A dataset in the R1-V layout written by the tests' own renderer: each image is a light grid with n dark square
/// "dots" (n = the answer) in distinct cells, saved by <see cref="TinyPng"/> in one of the PNG modes, and each
/// record {"image", "problem", "solution": "&lt;think&gt;...&lt;/think&gt;&lt;answer&gt;n&lt;/answer&gt;"}.
/// </summary>
internal sealed class OwnDataset : IDisposable
{
    public OwnDataset(int count = 8, int side = 40, Func<int, int>? colorTypeOf = null)
    {
        Folder = Path.Combine(Path.GetTempPath(), "grid-own-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(Folder, "img"));
        Jsonl = Path.Combine(Folder, "train.jsonl");
        var lines = new List<string>();
        for (int i = 0; i < count; i++)
        {
            int dots = i % 6;
            string image = $"img/{i:D3}.png";
            File.WriteAllBytes(Path.Combine(Folder, image), Render(side, dots, colorTypeOf?.Invoke(i) ?? 2));
            lines.Add(Record(image, "How many dots are there?", $"<think>I see {dots} dots.</think><answer>{dots}</answer>"));
        }

        File.WriteAllLines(Jsonl, lines);
    }

    public string Folder { get; }

    public string Jsonl { get; }

    public string PathOf(string relative) => Path.Combine(Folder, relative);

    public static string Record(string image, string problem, string solution, object? extra = null)
    {
        var record = new Dictionary<string, object> { ["image"] = image, ["problem"] = problem, ["solution"] = solution };
        if (extra is not null)
        {
            foreach (var property in extra.GetType().GetProperties())
            {
                record[property.Name] = property.GetValue(extra)!;
            }
        }

        return JsonSerializer.Serialize(record);
    }

    /// <summary>A side x side image, background (230, 230, 230), <paramref name="dots"/> 4 px dark dots in a 6x6 grid.</summary>
    public static byte[] Render(int side, int dots, int colorType)
    {
        var rgba = new byte[side * side * 4];
        for (int p = 0; p < side * side; p++)
        {
            (rgba[p * 4], rgba[(p * 4) + 1], rgba[(p * 4) + 2], rgba[(p * 4) + 3]) = (230, 230, 230, 255);
        }

        int cell = side / 6;
        for (int d = 0; d < dots; d++)
        {
            int cx = ((d * 5) % 6 * cell) + 1, cy = ((d * 5 / 6) % 6 * cell) + 1;
            for (int y = cy; y < cy + 4; y++)
            {
                for (int x = cx; x < cx + 4; x++)
                {
                    int p = ((y * side) + x) * 4;
                    (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = (20, 40, 160, 255);
                }
            }
        }

        return colorType switch
        {
            2 => TinyPng.Encode(side, side, 2, Pick(rgba, [0, 1, 2])),
            6 => TinyPng.Encode(side, side, 6, rgba),
            0 => TinyPng.Encode(side, side, 0, Pick(rgba, [1])),
            4 => TinyPng.Encode(side, side, 4, Pick(rgba, [1, 3])),
            3 => TinyPng.Encode(side, side, 3, Pick(rgba, [0]).Select(r => (byte)(r == 230 ? 0 : 1)).ToArray(),
                palette: [230, 230, 230, 20, 40, 160]),
            _ => throw new ArgumentOutOfRangeException(nameof(colorType)),
        };
    }

    private static byte[] Pick(byte[] rgba, int[] channels)
    {
        var result = new byte[rgba.Length / 4 * channels.Length];
        for (int p = 0, o = 0; p < rgba.Length; p += 4)
        {
            foreach (int c in channels)
            {
                result[o++] = rgba[p + c];
            }
        }

        return result;
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
