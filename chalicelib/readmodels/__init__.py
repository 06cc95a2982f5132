"""Read views for operators and the console, kept in the `views` table from the tables' DynamoDB Streams."""
