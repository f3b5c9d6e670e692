using Grid.Tasks.Datasets;

namespace Grid.Tasks.Tests.Datasets;

/// <summary>Every bad record is refused with the file, the line number and the problem.</summary>
public sealed class DatasetReaderRefusalTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly string _jsonl;
    private readonly string _goodLine;

    public DatasetReaderRefusalTests()
    {
        _jsonl = _folder.File("data.jsonl");
        DatasetWriter.ExportGenerated(TaskCatalog.Get("counting"), seed: 0, count: 1, _jsonl);
        _goodLine = File.ReadAllText(_jsonl).Trim();
    }

    public void Dispose() => _folder.Dispose();

    private static string Record(string id = "x1", string task = "counting", string answer = "3",
        string image = "images/counting-000000.png") =>
        $$"""{"id":"{{id}}","task":"{{task}}","question":"How many objects?","answer":"{{answer}}","image":"{{image}}"}""";

    /// <summary>Writes a good first line, a blank line, then <paramref name="badLine"/> on line 3.</summary>
    private DatasetFormatException RefuseOnLineThree(string badLine)
    {
        File.WriteAllText(_jsonl, $"{_goodLine}\n\n{badLine}\n");
        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Load(_jsonl));
        Assert.Equal(3, error.LineNumber);
        Assert.Contains("line 3", error.Message);
        Assert.Contains(_jsonl, error.Message);
        return error;
    }

    [Fact]
    public void Missing_image_is_refused() =>
        Assert.Contains("is missing", RefuseOnLineThree(Record(image: "images/nothing.png")).Message);

    [Fact]
    public void Parent_directory_path_is_refused() =>
        Assert.Contains("escapes the dataset's folder", RefuseOnLineThree(Record(image: "../outside.png")).Message);

    [Fact]
    public void Path_that_dips_out_and_back_in_is_refused() =>
        Assert.Contains("escapes", RefuseOnLineThree(Record(image: "images/../../x/images/a.png")).Message);

    [Fact]
    public void Absolute_path_is_refused() =>
        Assert.Contains("not a relative path", RefuseOnLineThree(Record(image: "/etc/passwd")).Message);

    [Fact]
    public void Symbolic_link_to_a_file_outside_is_refused()
    {
        using var outside = new TemporaryFolder();
        File.Copy(_folder.File("images/counting-000000.png"), outside.File("secret.png"));
        File.CreateSymbolicLink(_folder.File("images/link.png"), outside.File("secret.png"));
        var error = RefuseOnLineThree(Record(image: "images/link.png"));
        Assert.Contains("symbolic link", error.Message);
    }

    [Fact]
    public void Symbolic_link_to_a_folder_outside_is_refused()
    {
        using var outside = new TemporaryFolder();
        File.Copy(_folder.File("images/counting-000000.png"), outside.File("secret.png"));
        Directory.CreateSymbolicLink(_folder.File("elsewhere"), outside.Path);
        Assert.Contains("symbolic link", RefuseOnLineThree(Record(image: "elsewhere/secret.png")).Message);
    }

    [Fact]
    public void Symbolic_link_that_stays_inside_is_accepted()
    {
        File.CreateSymbolicLink(_folder.File("alias.png"), _folder.File("images/counting-000000.png"));
        File.WriteAllText(_jsonl, Record(image: "alias.png") + "\n");
        Assert.Single(DatasetReader.Load(_jsonl));
    }

    [Fact]
    public void Non_png_image_is_refused()
    {
        File.WriteAllText(_folder.File("images/fake.png"), "GIF89a not really an image");
        Assert.Contains("not a valid PNG", RefuseOnLineThree(Record(image: "images/fake.png")).Message);
    }

    [Fact]
    public void Empty_answer_is_refused() =>
        Assert.Contains("\"answer\" is empty", RefuseOnLineThree(Record(answer: " ")).Message);

    [Fact]
    public void Malformed_json_is_refused() =>
        Assert.Contains("malformed JSON", RefuseOnLineThree("{\"id\": \"x1\", \"task\": ").Message);

    [Fact]
    public void A_line_that_is_not_an_object_is_refused() =>
        Assert.Contains("not an object", RefuseOnLineThree("[1, 2, 3]").Message);

    [Fact]
    public void Unknown_task_is_refused_naming_the_known_ones()
    {
        string message = RefuseOnLineThree(Record(task: "clevr")).Message;
        Assert.Contains("unknown task \"clevr\"", message);
        Assert.Contains("counting, geometry", message);
    }

    [Fact]
    public void Missing_required_fields_are_named() =>
        Assert.Contains("missing required fields \"question\", \"answer\"",
            RefuseOnLineThree("""{"id":"x1","task":"counting","image":"images/counting-000000.png"}""").Message);

    [Fact]
    public void A_number_where_a_string_belongs_is_refused_with_the_fix() =>
        Assert.Contains("\"answer\": \"3\"", RefuseOnLineThree(Record().Replace("\"answer\":\"3\"", "\"answer\":3")).Message);

    [Fact]
    public void Duplicate_id_is_refused_naming_the_first_line() =>
        Assert.Contains("already used on line 1", RefuseOnLineThree(Record(id: "counting-000000")).Message);

    [Fact]
    public void Missing_dataset_file_is_a_file_not_found_error() =>
        Assert.Throws<FileNotFoundException>(() => DatasetReader.Load(_folder.File("absent.jsonl")));

    [Fact]
    public void An_overlong_line_is_refused_without_reading_it_whole()
    {
        File.WriteAllText(_jsonl, $"{_goodLine}\n\n{{\"id\": \"{new string('a', DatasetReader.MaxLineLength + 10)}\"}}\n");

        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Load(_jsonl));

        Assert.Equal(3, error.LineNumber);
        Assert.Contains($"longer than {DatasetReader.MaxLineLength} bytes", error.Message);
    }

    [Fact]
    public void Invalid_utf8_is_refused_with_its_line()
    {
        File.WriteAllBytes(_jsonl, [.. System.Text.Encoding.UTF8.GetBytes(_goodLine + "\n\n{\"id\": \""), 0xC3, 0x28, (byte)'"', (byte)'}']);

        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Load(_jsonl));

        Assert.Equal(3, error.LineNumber);
        Assert.Contains("not valid UTF-8", error.Message);
    }

    [Fact]
    public void A_folder_given_as_the_dataset_is_refused_as_a_folder() =>
        Assert.Contains("is a folder", Assert.Throws<FileNotFoundException>(() => DatasetReader.Load(_folder.Path)).Message);

    [Fact]
    public void Reading_streams_the_same_records_as_loading() =>
        Assert.Equal(DatasetReader.Load(_jsonl).Select(e => e.Id), DatasetReader.Read(_jsonl).Select(e => e.Id));

    [Fact]
    public void A_field_given_twice_is_refused() =>
        Assert.Contains("Duplicate property 'answer'", RefuseOnLineThree(Record().Replace("\"answer\":\"3\"", "\"answer\":\"3\",\"answer\":\"4\"")).Message);
}
