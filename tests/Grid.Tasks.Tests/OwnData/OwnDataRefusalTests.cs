using System.Text;
using Grid.Tasks.Datasets;

namespace Grid.Tasks.Tests.OwnData;

/// <summary>Every refusal of an own R1-V dataset names the file, the line, the problem and the fix.</summary>
public sealed class OwnDataRefusalTests : IDisposable
{
    private readonly OwnDataset _data = new(count: 2);

    public void Dispose() => _data.Dispose();

    /// <summary>Two good records, then <paramref name="line"/> on line 3; the refusal must point at it.</summary>
    private DatasetFormatException Refuse(string line, params string[] expected)
    {
        var lines = File.ReadAllLines(_data.Jsonl).Take(2).Append(line);
        File.WriteAllLines(_data.Jsonl, lines);
        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Read(_data.Jsonl).ToList());
        Assert.Equal(3, error.LineNumber);
        Assert.Contains(_data.Jsonl, error.Message);
        Assert.Contains("line 3", error.Message);
        foreach (string text in expected)
        {
            Assert.Contains(text, error.Message);
        }

        return error;
    }

    private static string Record(string image = "img/000.png", string solution = "<answer>3</answer>", object? extra = null) =>
        OwnDataset.Record(image, "How many dots?", solution, extra ?? new { id = "third" });

    [Fact]
    public void A_missing_image_names_where_it_was_looked_for() =>
        Refuse(Record("img/none.png"), "is missing", _data.PathOf("img/none.png"), "relative to the dataset file's folder");

    [Fact]
    public void An_escaping_image_path_is_refused() =>
        Refuse(Record("../../etc/passwd"), "escapes the dataset's folder", "copy the image into the folder");

    [Fact]
    public void An_absolute_image_path_is_refused() => Refuse(Record("/etc/passwd"), "not a relative path");

    [Fact]
    public void A_symlink_out_of_the_folder_is_refused()
    {
        File.CreateSymbolicLink(_data.PathOf("img/link.png"), "/etc/hostname");
        Refuse(Record("img/link.png"), "symbolic link", "outside the dataset's folder");
    }

    [Fact]
    public void A_non_image_file_is_refused()
    {
        File.WriteAllText(_data.PathOf("img/notes.png"), "just some text");
        Refuse(Record("img/notes.png"), "not a valid PNG or JPEG image", "Not an image", "Convert it to PNG or JPEG");
    }

    [Fact]
    public void A_truncated_image_is_refused()
    {
        byte[] png = File.ReadAllBytes(_data.PathOf("img/001.png"));
        File.WriteAllBytes(_data.PathOf("img/cut.png"), png[..(png.Length / 2)]);
        Refuse(Record("img/cut.png"), "truncated", "re-export the image");
    }

    [Fact]
    public void An_oversized_image_is_refused_from_its_header_before_decoding()
    {
        File.WriteAllBytes(_data.PathOf("img/huge.png"), TinyPng.HeaderOnly(5000, 5000));
        Refuse(Record("img/huge.png"), "5000x5000", "4096x4096", "not decoded", "Scale the image down");
    }

    [Fact]
    public void An_empty_image_file_is_refused()
    {
        File.WriteAllBytes(_data.PathOf("img/empty.png"), []);
        Refuse(Record("img/empty.png"), "the file is empty");
    }

    [Fact]
    public void Invalid_utf8_is_refused()
    {
        File.AppendAllText(_data.Jsonl, "");
        var lines = File.ReadAllLines(_data.Jsonl).Take(2).Select(l => Encoding.UTF8.GetBytes(l + "\n")).SelectMany(b => b);
        File.WriteAllBytes(_data.Jsonl, [.. lines, .. Encoding.UTF8.GetBytes("{\"problem\": \""), 0xC3, 0x28, (byte)'"', (byte)'}', (byte)'\n']);

        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Read(_data.Jsonl).ToList());

        Assert.Equal(3, error.LineNumber);
        Assert.Contains("not valid UTF-8", error.Message);
        Assert.Contains("Save the file as UTF-8", error.Message);
    }

    [Fact]
    public void An_empty_file_is_refused()
    {
        File.WriteAllText(_data.Jsonl, "");
        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Read(_data.Jsonl).ToList());
        Assert.Contains("holds no records (it is empty)", error.Message);
        Assert.Contains(_data.Jsonl, error.Message);

        File.WriteAllText(_data.Jsonl, "\r\n\n  \n");
        Assert.Contains("3 blank lines", Assert.Throws<DatasetFormatException>(() => DatasetReader.Read(_data.Jsonl).ToList()).Message);
    }

    [Fact]
    public void Duplicate_ids_are_refused()
    {
        File.WriteAllLines(_data.Jsonl, [Record(extra: new { id = "x" }), Record(extra: new { id = "y" }), Record(extra: new { id = "x" })]);
        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Read(_data.Jsonl).ToList());
        Assert.Equal(3, error.LineNumber);
        Assert.Contains("duplicate id \"x\", already used on line 1", error.Message);
    }

    [Fact]
    public void A_solution_without_an_answer_tag_is_refused() =>
        Refuse(Record(solution: "3 dots"), "no single non-empty <answer>", "\"solution\": \"<answer>3</answer>\"");

    [Fact]
    public void A_solution_with_two_answers_is_refused() =>
        Refuse(Record(solution: "<answer>3</answer><answer>4</answer>"), "no single non-empty <answer>");

    [Fact]
    public void A_numeric_answer_that_is_not_a_number_is_refused() =>
        Refuse(Record(solution: "<answer>three</answer>", extra: new { id = "t", answer_kind = "numeric" }),
            "\"three\" is not a plain number", "use \"answer_kind\": \"text\"");

    [Fact]
    public void A_choice_answer_outside_a_to_d_is_refused() =>
        Refuse(Record(solution: "<answer>E</answer>", extra: new { id = "t", answer_kind = "choice" }), "not a choice letter A-D");

    [Fact]
    public void An_unknown_answer_kind_is_refused() =>
        Refuse(Record(extra: new { id = "t", answer_kind = "fuzzy" }), "\"answer_kind\" is \"fuzzy\"", "\"numeric\"");

    [Fact]
    public void A_negative_tolerance_is_refused() =>
        Refuse(Record(extra: new { id = "t", answer_kind = "numeric", tolerance = -1 }), "\"tolerance\" is -1", "0 or more");

    [Fact]
    public void An_r1v_record_without_a_solution_is_refused() =>
        Refuse("""{"image":"img/000.png","problem":"How many?"}""", "needs \"image\"", "\"solution\"");

    [Fact]
    public void A_grid_record_of_an_own_task_without_an_answer_kind_is_refused() =>
        Refuse("""{"id":"a","task":"shapes","question":"Which?","answer":"C","image":"img/000.png"}""",
            "unknown task \"shapes\"", "\"answer_kind\"");
}
