using System.Text.Json;
using Grid.Tasks.Tests.OwnData;

namespace Grid.Training.Tests.OwnData;

/// <summary>
/// A dataset in the R1-V layout written by the test's own renderer: each 40 x 40 image (letterboxed to the policy's
/// 48 x 48 on reading) is a solid colour on a white frame, and the multiple-choice question (with non-ASCII text, so
/// the byte-fallback tokenizer is exercised) asks which one: A red, B green, C blue, D yellow.
/// </summary>
internal sealed class ColourDataset : IDisposable
{
    public const string Question = "Welche Farbe? A rot, B grün, C blau, D gelb";

    private static readonly (string Letter, byte R, byte G, byte B)[] s_colours =
        [("A", 200, 30, 30), ("B", 30, 170, 40), ("C", 30, 50, 200), ("D", 220, 200, 20)];

    public ColourDataset(int count, string name = "train", int firstId = 0)
    {
        Folder = Directory.CreateTempSubdirectory("grid-colours-").FullName;
        Directory.CreateDirectory(Path.Combine(Folder, "img"));
        Jsonl = Write(name, count, firstId);
    }

    public string Folder { get; }

    public string Jsonl { get; }

    /// <summary>Writes <paramref name="count"/> records with ids q-firstId... to NAME.jsonl in the folder; returns its path.</summary>
    public string Write(string name, int count, int firstId, Func<int, string>? answerOf = null)
    {
        var lines = new List<string>();
        for (int i = firstId; i < firstId + count; i++)
        {
            var colour = s_colours[(i * 7 + (i / 4)) % 4];
            string image = $"img/{i:D4}.png";
            string path = Path.Combine(Folder, image);
            if (!File.Exists(path))
            {
                File.WriteAllBytes(path, Render(colour.R, colour.G, colour.B));
            }

            lines.Add(JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["id"] = $"q-{i}",
                ["image"] = image,
                ["problem"] = Question,
                ["solution"] = $"<answer>{answerOf?.Invoke(i) ?? colour.Letter}</answer>",
            }));
        }

        string jsonl = Path.Combine(Folder, name + ".jsonl");
        File.WriteAllLines(jsonl, lines);
        return jsonl;
    }

    private static byte[] Render(byte r, byte g, byte b)
    {
        const int side = 40;
        var rgb = new byte[side * side * 3];
        for (int y = 0; y < side; y++)
        {
            for (int x = 0; x < side; x++)
            {
                bool frame = x < 4 || y < 4 || x >= side - 4 || y >= side - 4;
                int p = ((y * side) + x) * 3;
                (rgb[p], rgb[p + 1], rgb[p + 2]) = frame ? ((byte)255, (byte)255, (byte)255) : (r, g, b);
            }
        }

        return TinyPng.Encode(side, side, 2, rgb);
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
